import { TRPCError } from "@trpc/server";
import type { ApiErrorCode } from "@devenv/protocol";
import { apiErrorTransport } from "@devenv/protocol";
import { InstanceManagerError } from "@devenv/fleet";
import { CodedError } from "@devenv/core";
import { ScheduleError } from "@devenv/jobs";
import { isStoreError, type StoreErrorCode } from "@devenv/store";

/** The API's one error type: a code from the closed set and a message for the caller. */
export class ApiError extends CodedError<ApiErrorCode> {
  constructor(code: ApiErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ApiError";
  }
}

const byStoreCode: Record<StoreErrorCode, ApiErrorCode> = {
  "not-found": "not-found",
  conflict: "conflict",
  // a move the lifecycle forbids is a clash with the current state, not a malformed request
  "invalid-transition": "conflict",
  expired: "bad-request",
  unauthorized: "unauthorized",
  "invalid-input": "bad-request",
  unavailable: "unavailable",
  internal: "internal",
};

/**
 * Every failure as an ApiError: ours as is, the store's and the schedule validator's by
 * code, anything else `internal` with its cause. A ZodError reaching here is not the
 * caller's fault (input is checked before the resolver runs; this is e.g. an output
 * that failed its schema), so it stays `internal`.
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isStoreError(error)) return new ApiError(byStoreCode[error.code], error.message, { cause: error });
  if (error instanceof InstanceManagerError) return new ApiError(error.code, error.message, { cause: error });
  if (error instanceof ScheduleError) return new ApiError("bad-request", error.message, { cause: error });
  return new ApiError("internal", "internal error; the control plane's log has the details", { cause: error });
}

/** tRPC's own codes back to ours (errors tRPC raises itself: bad JSON, unknown procedure, too large a body). */
const byTrpcCode: Partial<Record<TRPCError["code"], ApiErrorCode>> = {
  PARSE_ERROR: "bad-request",
  BAD_REQUEST: "bad-request",
  PAYLOAD_TOO_LARGE: "bad-request",
  METHOD_NOT_SUPPORTED: "bad-request",
  UNPROCESSABLE_CONTENT: "bad-request",
  UNSUPPORTED_MEDIA_TYPE: "bad-request",
  UNAUTHORIZED: "unauthorized",
  FORBIDDEN: "forbidden",
  NOT_FOUND: "not-found",
  CONFLICT: "conflict",
  SERVICE_UNAVAILABLE: "unavailable",
  TIMEOUT: "unavailable",
};

export function apiCodeOfTrpcError(error: TRPCError): ApiErrorCode {
  if (error.cause instanceof ApiError) return error.cause.code;
  return byTrpcCode[error.code] ?? "internal";
}

export function toTrpcError(error: ApiError): TRPCError {
  return new TRPCError({ code: apiErrorTransport[error.code].trpc, message: error.message, cause: error });
}
