import { z } from "zod";

/**
 * The people's API's closed set of error codes. Every failure a caller sees carries one
 * of them (in `error.data.apiCode` on the wire) and a message that says what was wrong
 * and what to do. Anything the server did not expect is `internal`; malformed input is
 * always `bad-request`, never `internal`.
 */
export const apiErrorCodes = ["bad-request", "unauthorized", "forbidden", "not-found", "conflict", "unavailable", "internal"] as const;
export const ApiErrorCode = z.enum(apiErrorCodes);
export type ApiErrorCode = z.infer<typeof ApiErrorCode>;

/**
 * How each code travels over tRPC and HTTP. The tRPC code picks the HTTP status; the
 * status is listed so non-tRPC callers (curl, the fleet page) can rely on it.
 */
export const apiErrorTransport = {
  "bad-request": { trpc: "BAD_REQUEST", http: 400 },
  unauthorized: { trpc: "UNAUTHORIZED", http: 401 },
  forbidden: { trpc: "FORBIDDEN", http: 403 },
  "not-found": { trpc: "NOT_FOUND", http: 404 },
  conflict: { trpc: "CONFLICT", http: 409 },
  unavailable: { trpc: "SERVICE_UNAVAILABLE", http: 503 },
  internal: { trpc: "INTERNAL_SERVER_ERROR", http: 500 },
} as const satisfies Record<ApiErrorCode, { trpc: string; http: number }>;

/** The `data` every API error response carries besides tRPC's own fields. */
export const ApiErrorData = z.object({
  apiCode: ApiErrorCode,
  /** For bad-request from input validation: which fields, and why. */
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type ApiErrorData = z.infer<typeof ApiErrorData>;
