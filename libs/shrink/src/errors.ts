import { CodedError } from "@devenv/core";
import type { AuditFinding } from "./audit/audit-chunks.ts";

/** The shrink library's one error type, with a closed set of codes; `cliCode` tells the CLI how to report it. */
export const shrinkErrorCodes = ["invalid-rules", "rules-incomplete", "invalid-input", "secret-missing", "leak-found", "failed"] as const;
export type ShrinkErrorCode = (typeof shrinkErrorCodes)[number];

export class ShrinkError extends CodedError<ShrinkErrorCode> {
  /** With `leak-found`: every finding of the audit (the message shows the first ones). */
  readonly findings: readonly AuditFinding[];
  constructor(code: ShrinkErrorCode, message: string, options?: { cause?: unknown; findings?: readonly AuditFinding[] }) {
    super(code, message, options);
    this.name = "ShrinkError";
    this.findings = options?.findings ?? [];
  }

  get cliCode(): "usage" | "config" | "failed" {
    switch (this.code) {
      case "invalid-rules":
      case "rules-incomplete":
      case "secret-missing":
        return "config";
      case "invalid-input":
        return "usage";
      case "leak-found":
      case "failed":
        return "failed";
    }
  }
}
