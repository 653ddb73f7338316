import { CodedError } from "@devenv/core";

/**
 * The snapshot library's one error type, with a closed set of codes.
 * `cliCode` tells the CLI how to classify it without knowing this library.
 */
export const snapshotErrorCodes = [
  "invalid-input",
  "not-found",
  "unsupported-format",
  "corrupt",
  "unavailable",
  "schema-conflict",
  "failed",
] as const;
export type SnapshotErrorCode = (typeof snapshotErrorCodes)[number];

export class SnapshotError extends CodedError<SnapshotErrorCode> {
  constructor(code: SnapshotErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "SnapshotError";
  }

  get cliCode(): "usage" | "not-found" | "conflict" | "unavailable" | "failed" {
    switch (this.code) {
      case "invalid-input":
        return "usage";
      case "not-found":
        return "not-found";
      case "schema-conflict":
        return "conflict";
      case "unavailable":
        return "unavailable";
      case "unsupported-format":
      case "corrupt":
      case "failed":
        return "failed";
    }
  }
}
