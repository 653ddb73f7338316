import { CodedError } from "@devenv/core";

/** Failures of this library, a closed set; each says how a CLI should classify it. */
export const cassandraNodeErrorCodes = [
  "invalid-options",
  "dir-unusable",
  "address-unavailable",
  "java-missing",
  "maven-missing",
  "maven-failed",
  "port-in-use",
  "start-failed",
  "start-timeout",
  "stop-failed",
] as const;
export type CassandraNodeErrorCode = (typeof cassandraNodeErrorCodes)[number];

/** The CLI's error codes (apps/cli/src/errors.ts maps any error carrying `cliCode`). */
export type CliCode = "usage" | "config" | "not-found" | "conflict" | "unavailable" | "failed";

function cliCodeFor(code: CassandraNodeErrorCode): CliCode {
  switch (code) {
    case "invalid-options":
      return "usage";
    case "dir-unusable":
    case "address-unavailable":
      return "config";
    case "java-missing":
    case "maven-missing":
      return "unavailable";
    case "port-in-use":
      return "conflict";
    case "maven-failed":
    case "start-failed":
    case "start-timeout":
    case "stop-failed":
      return "failed";
  }
}

export class CassandraNodeError extends CodedError<CassandraNodeErrorCode> {
  readonly cliCode: CliCode;
  /** The last lines of the node's log, when the failure came from the node itself. */
  readonly logTail: string | undefined;

  constructor(code: CassandraNodeErrorCode, message: string, options?: { cause?: unknown; logTail?: string }) {
    super(code, message, options);
    this.name = "CassandraNodeError";
    this.cliCode = cliCodeFor(code);
    this.logTail = options?.logTail;
  }
}
