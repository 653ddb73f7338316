import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** The control plane's socket, bound before anything is built so every part knows the URL. */
export interface HttpListener {
  server: Server;
  /** http://host:port as bound (a wildcard host reads as 127.0.0.1). */
  url: string;
  /** Starts answering requests with `handler`; until then every request gets 503. */
  serve(handler: RequestHandler): void;
  /** Stops taking connections; open ones are cut after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

export async function bindHttp(host: string, port: number): Promise<HttpListener> {
  let handler: RequestHandler = (_request, response) => {
    response.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
    response.end(JSON.stringify({ error: "the control plane is starting" }));
  };
  const server = createServer((request, response) => handler(request, response));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${shown === "0.0.0.0" || shown === "[::]" ? "127.0.0.1" : shown}:${address.port}`;
  return {
    server,
    url,
    serve: (next) => {
      handler = next;
    },
    async close(graceMs) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), graceMs);
      await stopped;
      clearTimeout(grace);
    },
  };
}
