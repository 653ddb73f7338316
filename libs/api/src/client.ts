import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import type { ApiErrorCode } from "@devenv/protocol";
import { ApiErrorData } from "@devenv/protocol";
import type { AppRouter } from "./router.ts";

export interface ApiClientOptions {
  /** The control plane's base URL, e.g. http://127.0.0.1:7070 (the API is under /trpc). */
  url: string;
  /** A person's bearer token; absent for anonymous calls (which every procedure refuses). */
  token?: string;
  fetch?: typeof fetch;
}

/** The typed client the CLI uses: `await client.instances.up.mutate({ kind: "personal" })`. */
export function createApiClient(options: ApiClientOptions) {
  const base = options.url.replace(/\/+$/, "");
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${base}/trpc`,
        // queries go in a POST body too: a long input would not fit in a URL (Node refuses headers over 16 KiB)
        methodOverride: "POST",
        headers: () => (options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  });
}

export type ApiClient = ReturnType<typeof createApiClient>;

/** A failed call as the caller sees it: our code, the HTTP status and the server's message. */
export interface ApiCallFailure {
  code: ApiErrorCode | "network";
  httpStatus: number | undefined;
  message: string;
}

/** Reads a client error into our closed set of codes; anything that is not an API answer is `network`. */
export function apiFailureOf(error: unknown): ApiCallFailure {
  if (error instanceof TRPCClientError) {
    const data = ApiErrorData.safeParse(error.data);
    const httpStatus = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
    if (data.success) return { code: data.data.apiCode, httpStatus, message: error.message };
    return { code: "network", httpStatus, message: error.message };
  }
  return { code: "network", httpStatus: undefined, message: error instanceof Error ? error.message : String(error) };
}
