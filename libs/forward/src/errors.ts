import { CodedError } from "@devenv/core";

export const forwardErrorCodes = [
  "bad-target",
  "not-logged-in",
  "not-running",
  "unreachable",
  "start-failed",
  "control-failed",
] as const;
export type ForwardErrorCode = (typeof forwardErrorCodes)[number];

/** How the CLI classifies the error (see apps/cli/src/errors.ts). */
export type CliCode = "usage" | "config" | "not-found" | "conflict" | "unavailable" | "failed";

function cliCodeFor(code: ForwardErrorCode): CliCode {
  switch (code) {
    case "bad-target":
      return "usage";
    case "not-logged-in":
      return "config";
    case "not-running":
    case "unreachable":
      return "unavailable";
    case "start-failed":
    case "control-failed":
      return "failed";
  }
}

/** The forward's one error type; messages say what was wrong and what to do. */
export class ForwardError extends CodedError<ForwardErrorCode> {
  readonly cliCode: CliCode;
  constructor(code: ForwardErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ForwardError";
    this.cliCode = cliCodeFor(code);
  }
}
