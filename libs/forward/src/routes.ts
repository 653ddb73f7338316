import { ForwardRoute, type ForwardRouteView } from "@devenv/protocol";
import { ForwardError } from "./errors.ts";

/** A route as others may see it: the tunnel's token stays inside the daemon. */
export function routeView(route: ForwardRoute): ForwardRouteView {
  switch (route.kind) {
    case "direct":
      return { kind: "direct", host: route.host, port: route.port };
    case "tunnel":
      return { kind: "tunnel", url: route.url };
  }
}

/** One line for people and the key the daemon counts a route's connections under. */
export function describeRoute(route: ForwardRouteView): string {
  switch (route.kind) {
    case "direct":
      return `direct:${formatHostPort(route.host, route.port)}`;
    case "tunnel":
      return `tunnel:${route.url}`;
  }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses "HOST:PORT" (IPv6 in brackets); `what` names the input in the error. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new ForwardError("bad-target", `${what} must be HOST:PORT with a port from 1 to 65535, got "${value}"`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

/**
 * Turns a named target (`shared`, `mine`, an instance id) into a route. The control
 * plane's API client provides one (it asks where the instance is and for a tunnel
 * token); without one, only explicit `direct:` and `tunnel:` targets work.
 */
export type RouteResolver = (name: string) => Promise<ForwardRoute>;

export interface ParseTargetOptions {
  /** The bearer token for `tunnel:` targets (the CLI passes DEVENV_TOKEN). */
  tunnelToken?: string | undefined;
  resolveName?: RouteResolver | undefined;
}

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * `direct:HOST:PORT`, `tunnel:ws(s)://…`, or a name (`shared`, `mine`, an instance id)
 * handed to the resolver. Every failure is a `bad-target` error saying what to write.
 */
export async function parseRouteTarget(target: string, options: ParseTargetOptions = {}): Promise<ForwardRoute> {
  if (target.startsWith("direct:")) {
    const { host, port } = parseHostPort(target.slice("direct:".length), "a direct: target");
    return { kind: "direct", host, port };
  }
  if (target.startsWith("tunnel:")) {
    const url = target.slice("tunnel:".length);
    if (!options.tunnelToken) {
      throw new ForwardError("bad-target", "a tunnel: target needs a token: set DEVENV_TOKEN");
    }
    const parsed = ForwardRoute.safeParse({ kind: "tunnel", url, token: options.tunnelToken });
    if (!parsed.success) throw new ForwardError("bad-target", `a tunnel: target must be a ws:// or wss:// URL, got "${url}"`);
    return parsed.data;
  }
  if (!namePattern.test(target)) {
    throw new ForwardError(
      "bad-target",
      `unknown target "${target}": use shared, mine, an instance id, direct:HOST:PORT or tunnel:wss://…`,
    );
  }
  if (!options.resolveName) {
    throw new ForwardError(
      "not-logged-in",
      `"${target}" is looked up on the control plane: run \`devenv login --server URL --token T\` first (or use direct:HOST:PORT)`,
    );
  }
  const resolved = ForwardRoute.safeParse(await options.resolveName(target));
  if (!resolved.success) throw new ForwardError("bad-target", `the control plane gave no usable route for "${target}"`);
  return resolved.data;
}
