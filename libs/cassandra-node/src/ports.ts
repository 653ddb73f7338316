import { createConnection, createServer } from "node:net";
import { CassandraNodeError } from "./errors.ts";

/** Throws a one-line error unless `port` can be bound on `host` right now. */
export async function assertPortFree(host: string, port: number, purpose: string): Promise<void> {
  const outcome = await tryBind(host, port);
  if (outcome === "free") return;
  if (outcome === "EADDRINUSE") {
    throw new CassandraNodeError("port-in-use", `port ${port} on ${host} is already in use (wanted for ${purpose})`);
  }
  if (outcome === "EADDRNOTAVAIL" || outcome === "ENOTFOUND" || outcome === "EAI_AGAIN") {
    throw new CassandraNodeError("address-unavailable", `${host} is not an address of this machine (use 127.0.0.1 or another local address)`);
  }
  throw new CassandraNodeError("port-in-use", `cannot listen on ${host}:${port} for ${purpose}: ${outcome}`);
}

export async function isPortFree(host: string, port: number): Promise<boolean> {
  return (await tryBind(host, port)) === "free";
}

/** A port the OS handed out a moment ago on `host`. */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when something accepts TCP connections on host:port. */
export function isPortOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function tryBind(host: string, port: number): Promise<"free" | string> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    // exclusive: a port shared through the cluster module must count as taken
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve("free")));
  });
}
