import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One chunk request the gate saw: which chunk, when, and whether its whole body went out. */
export interface ChunkRequest {
  sha256: string;
  at: number;
  served: boolean;
}

/**
 * An HTTP proxy in front of the control plane's signed blob URLs (give its `url` as the
 * control plane's `publicUrl`), which lets a test hold a restore in its download phase:
 * while closed, chunk responses get their headers at once and their bodies only when the
 * gate opens (so no client times out waiting). The manifest always passes.
 */
export class ChunkGate {
  readonly url: string;
  readonly requests: ChunkRequest[] = [];
  readonly #server: Server;
  readonly #upstream: URL;
  #allowance = Number.POSITIVE_INFINITY;
  #waiting: (() => void)[] = [];

  private constructor(server: Server, upstream: URL) {
    this.#server = server;
    this.#upstream = upstream;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** A gate, open, in front of `upstream` (e.g. http://127.0.0.1:7070). */
  static async start(upstream: string): Promise<ChunkGate> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const gate = new ChunkGate(server, new URL(upstream));
    server.on("request", (req: IncomingMessage, res: ServerResponse) => gate.#forward(req, res));
    return gate;
  }

  /** From now on only `more` chunk bodies go out; the rest wait for `open`. */
  hold(more = 0): void {
    this.#allowance = more;
  }

  open(): void {
    this.#allowance = Number.POSITIVE_INFINITY;
    for (const release of this.#waiting.splice(0)) release();
  }

  /** Chunk requests whose body waits at the gate now. */
  get held(): number {
    return this.#waiting.length;
  }

  async close(): Promise<void> {
    this.open();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const sha256 = /\/blobs\/chunks\/([0-9a-f]{64})/.exec(req.url ?? "")?.[1];
    const upstream = httpRequest(
      { host: this.#upstream.hostname, port: this.#upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: this.#upstream.host } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        if (sha256 === undefined || answer.statusCode !== 200) {
          answer.pipe(res);
          return;
        }
        const seen: ChunkRequest = { sha256, at: Date.now(), served: false };
        this.requests.push(seen);
        res.on("finish", () => (seen.served = true));
        const send = () => answer.pipe(res);
        if (this.#allowance > 0) {
          this.#allowance -= 1;
          send();
        } else {
          this.#waiting.push(send);
          // a client killed while it waits takes its place in the queue with it
          res.on("close", () => {
            this.#waiting = this.#waiting.filter((w) => w !== send);
            answer.destroy();
          });
        }
      },
    );
    upstream.on("error", () => res.destroy());
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  }
}
