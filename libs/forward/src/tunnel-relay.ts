import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import { WebSocketServer, createWebSocketStream } from "ws";

export interface TunnelRelayOptions {
  /** Where a tunnel to `path` (the URL's path) leads; undefined answers 404. */
  targetFor: (path: string) => { host: string; port: number } | undefined;
  /** The bearer token every tunnel must present. */
  token: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
}

export interface TunnelRelay {
  /** ws://host:port, to which a path from targetFor is appended. */
  url: string;
  /** Tunnels open right now. */
  openTunnels(): number;
  close(): Promise<void>;
}

/**
 * The far end of the tunnel transport, relaying each WebSocket to a TCP target: the
 * smallest server the forward's tunnel route can talk to. The control plane does the
 * same towards its agents; tests and the tunnel benchmark stand this one in its place.
 */
export async function startTunnelRelay(options: TunnelRelayOptions): Promise<TunnelRelay> {
  const http: Server = createServer((_request, response) => response.writeHead(426).end("WebSocket only\n"));
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  let open = 0;

  http.on("upgrade", (request: IncomingMessage, socket, head) => {
    const reject = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (request.headers.authorization !== `Bearer ${options.token}`) return reject(401, "Unauthorized");
    const target = options.targetFor(new URL(request.url ?? "/", "http://relay").pathname);
    if (!target) return reject(404, "Not Found");
    wss.handleUpgrade(request, socket, head, (ws) => {
      open += 1;
      ws.on("close", () => (open -= 1));
      const tunnel = createWebSocketStream(ws);
      const tcp = connect({ host: target.host, port: target.port, noDelay: true });
      tunnel.on("error", () => tcp.destroy());
      tcp.on("error", () => tunnel.destroy());
      tunnel.pipe(tcp);
      tcp.pipe(tunnel);
    });
  });

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, host, () => resolve());
  });
  const address = http.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `ws://${host}:${port}`,
    openTunnels: () => open,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await closed;
    },
  };
}
