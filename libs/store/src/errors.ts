import { CodedError } from "@devenv/core";

/**
 * The store's closed set of error codes. Callers switch on `code`; the message says
 * what was wrong and what to do. Database errors never leave the store raw: a unique
 * violation becomes `conflict`, a missing referenced row `not-found`, an unreachable
 * or locked database `unavailable`, anything else `internal` (with the cause kept).
 */
export const storeErrorCodes = [
  "not-found",
  "conflict",
  "invalid-transition",
  "expired",
  "unauthorized",
  "invalid-input",
  "unavailable",
  "internal",
] as const;
export type StoreErrorCode = (typeof storeErrorCodes)[number];

export class StoreError extends CodedError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "StoreError";
  }
}

export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code);
}
