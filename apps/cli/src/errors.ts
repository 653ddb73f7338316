import { CodedError } from "@devenv/core";

/**
 * The CLI's one error type. Every failure that reaches the user is a CliError
 * with a code from this closed set; unknown errors are wrapped with their cause.
 */
export const cliErrorCodes = ["usage", "config", "not-found", "conflict", "unavailable", "failed"] as const;
export type CliErrorCode = (typeof cliErrorCodes)[number];

export class CliError extends CodedError<CliErrorCode> {
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "CliError";
  }
}

/** Usage errors exit 2 (like commander and POSIX tools); everything else exits 1. */
export function exitCodeFor(code: CliErrorCode): number {
  switch (code) {
    case "usage":
    case "config":
      return 2;
    case "not-found":
    case "conflict":
    case "unavailable":
    case "failed":
      return 1;
  }
}

/** One line for stderr: the message of the error, never a stack trace. */
export function toCliError(error: unknown): CliError {
  // library errors say how the CLI should classify them through a `cliCode` property
  const code: unknown = error instanceof Error ? (error as Error & { cliCode?: unknown }).cliCode : undefined;
  return CliError.wrap(error, isCliErrorCode(code) ? code : "failed");
}

function isCliErrorCode(value: unknown): value is CliErrorCode {
  return typeof value === "string" && (cliErrorCodes as readonly string[]).includes(value);
}
