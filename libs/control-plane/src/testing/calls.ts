import type { ApiErrorCode, ApiProcedurePath } from "@devenv/protocol";
import { apiProcedures } from "@devenv/protocol";
import { apiFailureOf, type ApiClient } from "@devenv/api";

export type Outcome = "ok" | ApiErrorCode;

/** Calls a procedure by its dotted path through the typed client (a query or a mutation, as the catalogue says). */
export async function callByPath(client: ApiClient, path: ApiProcedurePath, input: unknown): Promise<unknown> {
  let node: unknown = client;
  for (const part of path.split(".")) node = (node as Record<string, unknown>)[part];
  const procedure = node as { query(input: unknown): Promise<unknown>; mutate(input: unknown): Promise<unknown> };
  return apiProcedures[path].type === "query" ? procedure.query(input) : procedure.mutate(input);
}

export async function outcomeOf(call: Promise<unknown>): Promise<{ outcome: Outcome | "network"; httpStatus?: number; message?: string }> {
  try {
    await call;
    return { outcome: "ok" };
  } catch (error) {
    const failure = apiFailureOf(error);
    return { outcome: failure.code, httpStatus: failure.httpStatus, message: failure.message };
  }
}

