import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ForwardDirectRoute, ForwardRoute, ForwardTunnelRoute } from "@devenv/protocol";
import WebSocket, { createWebSocketStream } from "ws";

export interface UpstreamOptions {
  /** Give up on one attempt after this long (a host that vanished with the VPN never answers). */
  connectTimeoutMs: number;
  /** TCP keepalive, so a connection that died while the laptop slept is noticed. */
  keepAliveMs: number;
}

/** Why a connection to the target failed, and whether trying again can help. */
export class UpstreamError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UpstreamError";
    this.retryable = retryable;
  }
}

/** Opens one byte stream to the route's target; rejects with an UpstreamError. */
export function openUpstream(route: ForwardRoute, options: UpstreamOptions): Promise<Duplex> {
  switch (route.kind) {
    case "direct":
      return connectDirect(route, options);
    case "tunnel":
      return connectTunnel(route, options);
  }
}

function connectDirect(route: ForwardDirectRoute, options: UpstreamOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: route.host,
      port: route.port,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: options.keepAliveMs,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError(`no answer from ${route.host}:${route.port} within ${options.connectTimeoutMs} ms`, true));
    }, options.connectTimeoutMs);
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(new UpstreamError(`cannot connect to ${route.host}:${route.port}: ${error.message}`, true, { cause: error }));
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
  });
}

/**
 * One WebSocket per client connection; bytes travel as binary frames. ws's stream
 * wrapper gives backpressure both ways (send callbacks, pausing the socket), maps a
 * WebSocket close to end and an error to destroy.
 */
function connectTunnel(route: ForwardTunnelRoute, options: UpstreamOptions): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(route.url, {
      headers: { authorization: `Bearer ${route.token}` },
      perMessageDeflate: false,
      handshakeTimeout: options.connectTimeoutMs,
    });
    let settled = false;
    const fail = (error: UpstreamError) => {
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(error);
    };
    ws.on("upgrade", (response) => {
      response.socket.setKeepAlive(true, options.keepAliveMs);
    });
    ws.on("unexpected-response", (request, response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      // a refused token or a wrong URL stays refused; a relay that is restarting may come back
      const retryable = status >= 500 || status === 429 || status === 408;
      fail(new UpstreamError(`tunnel ${route.url} answered HTTP ${status} ${response.statusMessage ?? ""}`.trimEnd(), retryable));
      request.destroy();
    });
    ws.on("error", (error) => {
      fail(new UpstreamError(`cannot open tunnel ${route.url}: ${error.message}`, true, { cause: error }));
    });
    ws.once("open", () => {
      if (settled) return;
      settled = true;
      ws.removeAllListeners("error");
      const stream = createWebSocketStream(ws);
      // the stream turns the first error into destroy(); later ones have nothing left to say
      ws.on("error", () => {});
      resolve(stream);
    });
  });
}
