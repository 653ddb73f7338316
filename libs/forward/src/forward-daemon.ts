import { createServer, type Server, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import { backoffDelay, systemClock, type BackoffPolicy } from "@devenv/core";
import {
  forwardControlVersion,
  type ForwardListenAddress,
  type ForwardRoute,
  type ForwardRouteCounters,
  type ForwardRouteView,
  type ForwardStatus,
} from "@devenv/protocol";
import { ForwardError } from "./errors.ts";
import { describeRoute, formatHostPort, routeView } from "./routes.ts";
import { openUpstream, UpstreamError } from "./upstream.ts";

export const defaultListenAddress: ForwardListenAddress = { host: "127.0.0.1", port: 9042 };

export interface ForwardDaemonOptions {
  /** Port 0 picks a free one (tests). */
  listen?: ForwardListenAddress;
  route?: ForwardRoute | null;
  /** Close connections left on a previous route this long after a switch; null (default) lets them finish. */
  drainTimeoutMs?: number | null;
  /** Attempts to reach the target per client connection before the client is closed (default 4). */
  connectAttempts?: number;
  /** Pause after the first failed attempt, doubled after each next one up to 30 s (default 100 ms). */
  connectBackoffMs?: number;
  connectTimeoutMs?: number;
  keepAliveMs?: number;
  log?: (event: ForwardLogEvent) => void;
}

export type ForwardLogEvent =
  | { event: "listening"; listen: ForwardListenAddress }
  | { event: "route-changed"; route: string; previous: string | null }
  | { event: "connect-retry"; route: string; attempt: number; error: string }
  | { event: "connect-failed"; route: string; attempts: number; error: string }
  | { event: "no-route" }
  | { event: "drain-deadline"; closed: number };

interface Counters {
  route: ForwardRouteView;
  active: number;
  opened: number;
  failed: number;
  bytesFromClients: number;
  bytesToClients: number;
}

interface Connection {
  client: Socket;
  upstream: Duplex | undefined;
  /** Which setRoute() the connection was made under; older ones drain. */
  generation: number;
}

/** Half-closed connections get this long to finish sending before both sides are destroyed. */
const lingerMs = 5_000;
/** Routes remembered for counters; a daemon that lives for months may see many. */
const maxRememberedRoutes = 32;

/**
 * A TCP listener that pipes each accepted connection to the current route.
 * setRoute() applies to the next connection at once; open connections drain on the
 * route they were made on (or are closed after drainTimeoutMs). Only timers measure
 * time, so a laptop's sleep or a clock jump breaks nothing: dead sockets are found
 * by TCP keepalive, and every new connection dials afresh.
 */
export class ForwardDaemon {
  readonly #options: Required<Omit<ForwardDaemonOptions, "route" | "log">> & Pick<ForwardDaemonOptions, "log">;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  readonly #counters = new Map<string, Counters>();
  readonly #startedAt = new Date();
  #route: ForwardRoute | null;
  #routeChangedAt: Date | null = null;
  #generation = 0;
  #address: ForwardListenAddress | undefined;
  #closing = false;

  constructor(options: ForwardDaemonOptions = {}) {
    this.#options = {
      listen: options.listen ?? defaultListenAddress,
      drainTimeoutMs: options.drainTimeoutMs ?? null,
      connectAttempts: options.connectAttempts ?? 4,
      connectBackoffMs: options.connectBackoffMs ?? 100,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      keepAliveMs: options.keepAliveMs ?? 30_000,
      log: options.log,
    };
    this.#route = options.route ?? null;
    // pauseOnConnect: nothing is read from a client until its target is connected
    this.#server = createServer({ pauseOnConnect: true, noDelay: true, keepAlive: true, keepAliveInitialDelay: this.#options.keepAliveMs });
    this.#server.on("connection", (client) => void this.#accept(client));
  }

  /** Starts listening; resolves with the bound address (the real port when 0 was asked). */
  async listen(): Promise<ForwardListenAddress> {
    const { host, port } = this.#options.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        const where = formatHostPort(host, port);
        const message =
          error.code === "EADDRINUSE"
            ? `${where} is already in use: stop what listens there or pass --listen HOST:PORT`
            : `cannot listen on ${where}: ${error.message}`;
        reject(new ForwardError("start-failed", message, { cause: error }));
      };
      this.#server.once("error", onError);
      this.#server.listen({ host, port }, () => {
        this.#server.off("error", onError);
        resolve();
      });
    });
    const bound = this.#server.address();
    this.#address = { host, port: typeof bound === "object" && bound ? bound.port : port };
    this.#options.log?.({ event: "listening", listen: this.#address });
    return this.#address;
  }

  get address(): ForwardListenAddress {
    if (!this.#address) throw new Error("the forward is not listening yet");
    return this.#address;
  }

  get route(): ForwardRoute | null {
    return this.#route;
  }

  /** New connections go to `route` from now on; open ones stay where they are. */
  setRoute(route: ForwardRoute): { previous: ForwardRoute | null } {
    const previous = this.#route;
    // the same route again is no switch: its open connections must not be drained
    if (previous && sameRoute(previous, route)) return { previous };
    this.#route = route;
    this.#routeChangedAt = new Date();
    this.#generation += 1;
    this.#countersFor(route);
    this.#options.log?.({
      event: "route-changed",
      route: describeRoute(routeView(route)),
      previous: previous ? describeRoute(routeView(previous)) : null,
    });
    const deadline = this.#options.drainTimeoutMs;
    if (deadline !== null) {
      const generation = this.#generation;
      setTimeout(() => this.#closeOlderThan(generation), deadline).unref();
    }
    return { previous };
  }

  /** Opens one connection to `route` and closes it: whether the target answers now. */
  async probe(route: ForwardRoute): Promise<void> {
    const upstream = await openUpstream(route, this.#upstreamOptions());
    upstream.on("error", () => {});
    upstream.destroy();
  }

  status(pid = process.pid): ForwardStatus {
    const current = this.#route ? describeRoute(routeView(this.#route)) : undefined;
    const routes: ForwardRouteCounters[] = [...this.#counters.entries()].map(([key, c]) => ({ ...c, route: { ...c.route }, current: key === current }));
    return {
      controlVersion: forwardControlVersion,
      pid,
      listen: this.address,
      startedAt: this.#startedAt.toISOString(),
      route: this.#route ? routeView(this.#route) : null,
      routeChangedAt: this.#routeChangedAt?.toISOString() ?? null,
      drainTimeoutMs: this.#options.drainTimeoutMs,
      active: this.#connections.size,
      routes,
    };
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const connection of this.#connections) destroyConnection(connection);
    await closed;
  }

  async #accept(client: Socket): Promise<void> {
    const connection: Connection = { client, upstream: undefined, generation: this.#generation };
    this.#connections.add(connection);
    client.on("error", () => {});
    client.once("close", () => {
      if (!connection.upstream) this.#connections.delete(connection);
    });
    client.setKeepAlive(true, this.#options.keepAliveMs);

    const connected = await this.#connectUpstream(connection);
    if (!connected) {
      client.destroy();
      this.#connections.delete(connection);
      return;
    }
    const { upstream, counters } = connected;
    if (client.destroyed || this.#closing) {
      upstream.on("error", () => {});
      upstream.destroy();
      this.#connections.delete(connection);
      return;
    }
    connection.upstream = upstream;
    counters.opened += 1;
    counters.active += 1;
    this.#pipe(connection, client, upstream, counters);
  }

  /** Dials the current route, retrying a target that is restarting; re-reads the route on every attempt. */
  async #connectUpstream(connection: Connection): Promise<{ upstream: Duplex; counters: Counters } | undefined> {
    const attempts = this.#options.connectAttempts;
    // no jitter: a waiting client gets the pauses connectBackoffMs promises
    const backoff: BackoffPolicy = { initialMs: this.#options.connectBackoffMs, maxMs: 30_000, jitter: "none" };
    for (let attempt = 1; ; attempt += 1) {
      const route = this.#route;
      if (!route) {
        this.#options.log?.({ event: "no-route" });
        return undefined;
      }
      const counters = this.#countersFor(route);
      connection.generation = this.#generation;
      try {
        return { upstream: await openUpstream(route, this.#upstreamOptions()), counters };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const retryable = !(error instanceof UpstreamError) || error.retryable;
        const gaveUp = !retryable || attempt >= attempts || connection.client.destroyed || this.#closing;
        const routeName = describeRoute(counters.route);
        if (gaveUp) {
          counters.failed += 1;
          this.#options.log?.({ event: "connect-failed", route: routeName, attempts: attempt, error: message });
          return undefined;
        }
        this.#options.log?.({ event: "connect-retry", route: routeName, attempt, error: message });
        await systemClock.sleep(backoffDelay(backoff, attempt - 1));
      }
    }
  }

  #pipe(connection: Connection, client: Socket, upstream: Duplex, counters: Counters): void {
    client.on("data", (chunk: Buffer) => (counters.bytesFromClients += chunk.length));
    upstream.on("data", (chunk: Buffer) => (counters.bytesToClients += chunk.length));
    // pipe() pauses the source while the destination's buffer is full: memory stays bounded
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.on("error", () => client.destroy());
    client.on("error", () => upstream.destroy());
    // a WebSocket stream does not destroy itself once both directions are done: do it here
    let upstreamDone = 0;
    const upstreamHalfDone = () => {
      upstreamDone += 1;
      if (upstreamDone === 2) upstream.destroy();
    };
    upstream.once("end", upstreamHalfDone);
    upstream.once("finish", upstreamHalfDone);
    // pipe() ends the other side when one side ends; give it a moment to flush, then let go
    const linger = (other: Duplex) => setTimeout(() => other.destroy(), lingerMs).unref();
    let open = 2;
    const closed = () => {
      open -= 1;
      if (open > 0) return;
      counters.active -= 1;
      this.#connections.delete(connection);
    };
    client.once("close", () => {
      // unpiped from a closed client, the upstream would sit paused and never see its end
      upstream.resume();
      linger(upstream);
      closed();
    });
    upstream.once("close", () => {
      linger(client);
      closed();
    });
  }

  #closeOlderThan(generation: number): void {
    let closed = 0;
    for (const connection of this.#connections) {
      if (connection.generation < generation && connection.upstream) {
        destroyConnection(connection);
        closed += 1;
      }
    }
    if (closed > 0) this.#options.log?.({ event: "drain-deadline", closed });
  }

  #countersFor(route: ForwardRoute): Counters {
    const view = routeView(route);
    const key = describeRoute(view);
    let counters = this.#counters.get(key);
    if (!counters) {
      counters = { route: view, active: 0, opened: 0, failed: 0, bytesFromClients: 0, bytesToClients: 0 };
      this.#counters.set(key, counters);
      this.#forgetIdleRoutes(key);
    }
    return counters;
  }

  /** Keeps the counters map bounded: forgets the oldest idle routes. */
  #forgetIdleRoutes(keep: string): void {
    for (const [key, counters] of this.#counters) {
      if (this.#counters.size <= maxRememberedRoutes) return;
      if (key !== keep && counters.active === 0) this.#counters.delete(key);
    }
  }

  #upstreamOptions() {
    return { connectTimeoutMs: this.#options.connectTimeoutMs, keepAliveMs: this.#options.keepAliveMs };
  }
}

function destroyConnection(connection: Connection): void {
  connection.client.destroy();
  connection.upstream?.destroy();
}

function sameRoute(a: ForwardRoute, b: ForwardRoute): boolean {
  switch (a.kind) {
    case "direct":
      return b.kind === "direct" && a.host === b.host && a.port === b.port;
    case "tunnel":
      return b.kind === "tunnel" && a.url === b.url && a.token === b.token;
  }
}
