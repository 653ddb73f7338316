import { initTRPC, TRPCError } from "@trpc/server";
import type { ApiErrorData, ApiProcedurePath } from "@devenv/protocol";
import { apiProcedures } from "@devenv/protocol";
import type { Clock } from "@devenv/core";
import type { Store, User } from "@devenv/store";
import type { InstanceManager, ManagedHostDirectory } from "@devenv/fleet";
import { ZodError } from "zod";
import { ApiError, apiCodeOfTrpcError, toApiError, toTrpcError } from "./api-error.ts";
import { procedureRoles } from "./policy.ts";
import type { LivenessOf } from "./views.ts";

/** What the procedures work with; built once per server, never a module-level singleton. */
export interface ApiDeps {
  store: Store;
  clock: Clock;
  /** The one writer of instance and assignment state. */
  instances: InstanceManager;
  /** The hub's view of agents' heartbeats; absent while no hub is attached. */
  liveness?: LivenessOf;
  /** EC2's view of the fleet's hosts (launch times, markets) when the provisioner rents them. */
  hosts?: ManagedHostDirectory;
  /** The sources the config names for shrinks, the first being the default. */
  sources: readonly ShrinkSource[];
  /** Told about every `internal` error (with its cause), for the log. */
  onInternalError?: (path: string | undefined, error: unknown) => void;
}

/** A production source a shrink may read, as the control plane's config names it. */
export interface ShrinkSource {
  name: string;
  contactPoints: string[];
  localDataCenter: string;
  keyspace: string;
  /** The rules file on the job runners' hosts. */
  rules: string;
}

/** Per request: the deps and the bearer token, checked by the procedure that needs it. */
export interface ApiContext {
  deps: ApiDeps;
  bearer: string | undefined;
}

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error, path, ctx }) {
    const apiCode = apiCodeOfTrpcError(error);
    if (apiCode === "internal") ctx?.deps.onInternalError?.(path, error.cause ?? error);
    const issues = apiCode === "bad-request" && error.cause instanceof ZodError ? error.cause.issues.slice(0, 20).map((i) => ({ path: i.path.join("."), message: i.message })) : undefined;
    const data: ApiErrorData & typeof shape.data = { ...shape.data, apiCode, ...(issues ? { issues } : {}) };
    // never send a stack or an internal cause's words to the caller
    delete (data as { stack?: string }).stack;
    const message = apiCode === "internal" ? "internal error; the control plane's log has the details" : issues ? `invalid input: ${issues.slice(0, 5).map((i) => `${i.path || "input"}: ${i.message}`).join("; ")}` : shape.message;
    return { ...shape, message, data };
  },
});

export const router = t.router;

/** Errors thrown by resolvers (ApiError, StoreError, zod, schedules) become the right tRPC code, hence the right HTTP status. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.code === "INTERNAL_SERVER_ERROR" && result.error.cause !== undefined && !(result.error.cause instanceof TRPCError)) {
    throw toTrpcError(toApiError(result.error.cause));
  }
  return result;
});

function authorize(path: ApiProcedurePath) {
  return t.middleware(async ({ ctx, next }) => {
    if (ctx.bearer === undefined) throw toTrpcError(new ApiError("unauthorized", "no bearer token: send `Authorization: Bearer <token>` (devenv login)"));
    const user = await ctx.deps.store.tokens.authenticate(ctx.bearer);
    if (user === null) throw toTrpcError(new ApiError("unauthorized", "the token is unknown, revoked or expired; ask an admin for a new one"));
    const roles = procedureRoles[path];
    if (!roles.includes(user.role)) throw toTrpcError(new ApiError("forbidden", `${path} needs the ${roles.join(" or ")} role; you are ${user.role}`));
    return next({ ctx: { user } as { user: User } });
  });
}

/** The procedure for one catalogue entry: errors mapped, caller authorised by role, input and output checked by its schemas. */
export function procedure<P extends ApiProcedurePath>(path: P) {
  const spec = apiProcedures[path];
  return t.procedure.use(mapErrors).use(authorize(path)).input(spec.input as (typeof apiProcedures)[P]["input"]).output(spec.output as (typeof apiProcedures)[P]["output"]);
}

/** Bearer token of a request, if it has one. */
export function bearerOf(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return match?.[1];
}
