import { connect, createServer, type Server, type Socket } from "node:net";

/** A TCP server for tests that greets each connection with its name, then echoes. */
export interface NamedEchoServer {
  name: string;
  port: number;
  /** Connections open right now. */
  open(): number;
  close(): Promise<void>;
}

export async function startNamedEchoServer(name: string, port = 0): Promise<NamedEchoServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  return {
    name,
    port: typeof address === "object" && address ? address.port : port,
    open: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A client connection that collects what it receives. */
export interface TestClient {
  socket: Socket;
  received(): string;
  /** Resolves once the received text contains `text`; rejects when the socket closes first. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  closed: Promise<void>;
}

export function connectClient(port: number): TestClient {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  let waiters: (() => void)[] = [];
  socket.setEncoding("utf8");
  socket.on("error", () => {});
  socket.on("data", (chunk: string) => {
    text += chunk;
    for (const waiter of waiters) waiter();
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  return {
    socket,
    received: () => text,
    closed,
    waitFor: (wanted, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (text.includes(wanted)) {
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== check);
            resolve();
          }
        };
        const timer = setTimeout(() => reject(new Error(`did not receive "${wanted}" within ${timeoutMs} ms (got "${text}")`)), timeoutMs);
        void closed.then(() => {
          if (!text.includes(wanted)) {
            clearTimeout(timer);
            reject(new Error(`closed before "${wanted}" arrived (got "${text}")`));
          }
        });
        waiters.push(check);
        check();
      }),
  };
}

/** Polls `condition` until it holds or the deadline passes. */
export async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A loopback port that was free a moment ago. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
