import { apiFailureOf, createApiClient, type ApiClient } from "@devenv/api/client";
import type { ForwardRoute } from "@devenv/protocol";
import type { RouteResolver } from "@devenv/forward";
import { CliError, type CliErrorCode } from "../errors.ts";
import type { CommandContext } from "../program.ts";

/** A logged-in session: where the control plane is, who we are to it, and its typed client. */
export interface ApiSession {
  server: string;
  token: string;
  client: ApiClient;
}

/**
 * The session every API command works in: server and token from the config file that
 * `devenv login` wrote, overridden by DEVENV_SERVER / DEVENV_TOKEN. Fails with one line
 * naming `devenv login` when either is missing.
 */
export function apiSession(context: CommandContext): ApiSession {
  const config = context.config();
  if (config.server === undefined || config.token === undefined) {
    const missing = config.server === undefined ? "no control plane configured" : "no API token configured";
    throw new CliError("config", `${missing}: run \`devenv login --server URL --token T\` (or set DEVENV_SERVER and DEVENV_TOKEN)`);
  }
  return { server: config.server, token: config.token, client: createApiClient({ url: config.server, token: config.token }) };
}

/** How each API error code reaches the user: exit code class and a hint on what to do. */
function cliCodeOf(code: ReturnType<typeof apiFailureOf>["code"]): CliErrorCode {
  switch (code) {
    case "bad-request":
      return "usage";
    case "unauthorized":
      return "config";
    case "not-found":
      return "not-found";
    case "conflict":
      return "conflict";
    case "unavailable":
    case "network":
      return "unavailable";
    case "forbidden":
    case "internal":
      return "failed";
  }
}

/**
 * Runs one API call and turns its failure into a CliError: the server's own message
 * (which says what to do), a hint for a refused token, the address for a network error.
 */
export async function callApi<T>(session: Pick<ApiSession, "server">, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof CliError) throw error;
    const failure = apiFailureOf(error);
    const message =
      failure.code === "network"
        ? `cannot reach the control plane at ${session.server}: ${failure.message}`
        : failure.code === "unauthorized"
          ? `the control plane refused the token (${failure.message}); run \`devenv login\` again`
          : failure.message;
    throw new CliError(cliCodeOf(failure.code), message, { cause: error });
  }
}

/** `ws(s)://<server>/tunnel/<target>`: where the forward opens database tunnels through the control plane. */
export function tunnelUrl(server: string, target: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/tunnel/${encodeURIComponent(target)}`;
  url.search = "";
  url.hash = "";
  return url.toString();
}

export function tunnelRoute(session: Pick<ApiSession, "server" | "token">, target: string): ForwardRoute {
  return { kind: "tunnel", url: tunnelUrl(session.server, target), token: session.token };
}

const liveStates = ["ready", "refreshing"] as const;

/**
 * `devenv use shared|mine|<instance id>` through the control plane. `mine` and `shared`
 * become the relay's own names (`/tunnel/mine`, `/tunnel/shared`), which it resolves per
 * connection, so the forward follows a replacement instance without another `use`; an
 * id pins one instance. The API is asked first so a wrong name fails with a clear line.
 */
export function apiRouteResolver(context: CommandContext): RouteResolver {
  return async (name) => {
    const config = context.config();
    if (config.server === undefined || config.token === undefined) {
      throw new CliError("config", `"${name}" is looked up on the control plane: run \`devenv login --server URL --token T\` first (or use direct:HOST:PORT)`);
    }
    const session = apiSession(context);
    const { client } = session;
    if (name === "mine") {
      // ops and admin see everyone's instances: ask for the caller's own
      const who = await callApi(session, () => client.auth.whoami.query());
      const ready = await callApi(session, () => client.instances.list.query({ ownerId: who.user.id, kind: "personal", states: [...liveStates] }));
      if (ready.length === 0) throw new CliError("not-found", "you have no ready personal instance: `devenv up` starts one, `devenv ls` shows yours");
      return tunnelRoute(session, "mine");
    }
    if (name === "shared") return tunnelRoute(session, "shared");
    const { instance } = await callApi(session, () => client.instances.show.query({ id: name }));
    if (!(liveStates as readonly string[]).includes(instance.state)) {
      throw new CliError("conflict", `instance ${instance.id} is ${instance.state}, not ready${instance.stateDetail ? ` (${instance.stateDetail})` : ""}`);
    }
    return tunnelRoute(session, instance.id);
  };
}
