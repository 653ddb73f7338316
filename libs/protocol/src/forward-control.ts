import { z } from "zod";

/**
 * The local forward: a background process on a developer's machine that listens on
 * localhost:9042 and pipes every accepted connection to the current route. The CLI
 * talks to it over a unix socket with one JSON object per line: a request line, then
 * one response line. Both sides parse what they receive with the schemas below.
 *
 * History of forwardControlVersion:
 *   1 — first version: status, use, stop.
 */
export const forwardControlVersion = 1;

// ---------------------------------------------------------------------------
// Routes: where new connections go

const port = z.int().min(1).max(65535);

/** Plain TCP to a host the laptop can reach (private network, VPN, a local node). */
export const ForwardDirectRoute = z.object({
  kind: z.literal("direct"),
  host: z.string().min(1),
  port,
});
export type ForwardDirectRoute = z.infer<typeof ForwardDirectRoute>;

/**
 * One WebSocket per client connection to `url` (the control plane, which relays to the
 * agent), authenticated with `Authorization: Bearer <token>`; raw bytes travel in binary
 * frames both ways.
 */
export const ForwardTunnelRoute = z.object({
  kind: z.literal("tunnel"),
  url: z.url({ protocol: /^wss?$/, error: "must be a ws:// or wss:// URL" }),
  token: z.string().min(1),
});
export type ForwardTunnelRoute = z.infer<typeof ForwardTunnelRoute>;

export const ForwardRoute = z.discriminatedUnion("kind", [ForwardDirectRoute, ForwardTunnelRoute]);
export type ForwardRoute = z.infer<typeof ForwardRoute>;

/** A route as shown to anyone asking: the tunnel's token never leaves the daemon. */
export const ForwardRouteView = z.discriminatedUnion("kind", [
  ForwardDirectRoute,
  ForwardTunnelRoute.omit({ token: true }),
]);
export type ForwardRouteView = z.infer<typeof ForwardRouteView>;

export const ForwardListenAddress = z.object({ host: z.string().min(1), port });
export type ForwardListenAddress = z.infer<typeof ForwardListenAddress>;

// ---------------------------------------------------------------------------
// Status

const count = z.int().min(0);

/** Connections and bytes of one route since the daemon started. */
export const ForwardRouteCounters = z.object({
  route: ForwardRouteView,
  current: z.boolean(),
  /** Open right now (draining ones included when the route is no longer current). */
  active: count,
  /** Connected to the target since the daemon started. */
  opened: count,
  /** Client connections closed because the target could not be reached. */
  failed: count,
  bytesFromClients: count,
  bytesToClients: count,
});
export type ForwardRouteCounters = z.infer<typeof ForwardRouteCounters>;

export const ForwardStatus = z.object({
  controlVersion: z.int().min(1),
  pid: z.int().min(1),
  listen: ForwardListenAddress,
  startedAt: z.iso.datetime(),
  /** Null until the first `use`. */
  route: ForwardRouteView.nullable(),
  routeChangedAt: z.iso.datetime().nullable(),
  /** Connections left on a previous route are closed this long after a switch; null lets them finish. */
  drainTimeoutMs: count.nullable(),
  /** Client connections open right now, over every route. */
  active: count,
  routes: z.array(ForwardRouteCounters),
});
export type ForwardStatus = z.infer<typeof ForwardStatus>;

// ---------------------------------------------------------------------------
// Requests (CLI → daemon) and responses (daemon → CLI)

export const ForwardStatusRequest = z.object({ type: z.literal("status") });
export type ForwardStatusRequest = z.infer<typeof ForwardStatusRequest>;

export const ForwardUseRequest = z.object({
  type: z.literal("use"),
  route: ForwardRoute,
  /** Open one connection to the target first and keep the old route when it fails. */
  check: z.boolean().default(true),
});
export type ForwardUseRequest = z.input<typeof ForwardUseRequest>;

export const ForwardStopRequest = z.object({ type: z.literal("stop") });
export type ForwardStopRequest = z.infer<typeof ForwardStopRequest>;

export const ForwardControlRequest = z.discriminatedUnion("type", [ForwardStatusRequest, ForwardUseRequest, ForwardStopRequest]);
export type ForwardControlRequest = z.input<typeof ForwardControlRequest>;

export const ForwardStatusResponse = z.object({ type: z.literal("status"), status: ForwardStatus });
export type ForwardStatusResponse = z.infer<typeof ForwardStatusResponse>;

export const ForwardUseResponse = z.object({
  type: z.literal("use"),
  previous: ForwardRouteView.nullable(),
  route: ForwardRouteView,
});
export type ForwardUseResponse = z.infer<typeof ForwardUseResponse>;

export const ForwardStopResponse = z.object({ type: z.literal("stop"), pid: z.int().min(1) });
export type ForwardStopResponse = z.infer<typeof ForwardStopResponse>;

export const forwardControlErrorCodes = ["bad-request", "unreachable", "internal"] as const;
export const ForwardControlErrorCode = z.enum(forwardControlErrorCodes);
export type ForwardControlErrorCode = z.infer<typeof ForwardControlErrorCode>;

/** The request changed nothing. */
export const ForwardErrorResponse = z.object({
  type: z.literal("error"),
  code: ForwardControlErrorCode,
  message: z.string(),
});
export type ForwardErrorResponse = z.infer<typeof ForwardErrorResponse>;

export const ForwardControlResponse = z.discriminatedUnion("type", [
  ForwardStatusResponse,
  ForwardUseResponse,
  ForwardStopResponse,
  ForwardErrorResponse,
]);
export type ForwardControlResponse = z.infer<typeof ForwardControlResponse>;

// ---------------------------------------------------------------------------
// The state file: what a restarted daemon comes back with

/**
 * `<state-dir>/forward.json`, mode 0600 (it holds the tunnel token).
 *
 * History of `version`:
 *   1 — first version.
 */
export const ForwardStateFile = z.object({
  version: z.literal(1),
  listen: ForwardListenAddress,
  route: ForwardRoute.nullable(),
  drainTimeoutMs: count.nullable(),
});
export type ForwardStateFile = z.infer<typeof ForwardStateFile>;
