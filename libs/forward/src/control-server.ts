import { chmodSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { ForwardControlRequest, type ForwardControlResponse } from "@devenv/protocol";
import type { z } from "zod";

/** A request as the daemon sees it: parsed, defaults filled in. */
export type ControlRequest = z.output<typeof ForwardControlRequest>;
export type ControlHandler = (request: ControlRequest) => Promise<ForwardControlResponse>;

/** A request line longer than this is not one of ours; the connection is dropped. */
const maxLineBytes = 64 * 1024;

/**
 * The daemon's end of the control socket: one JSON request per line, one JSON response
 * line each, in order. The socket file is made mode 0600 (and its directory 0700 by the
 * caller): whoever can talk to it can redirect this user's database connections.
 */
export interface ControlServer {
  /** Stops listening and drops every control connection still open. */
  close(): Promise<void>;
}

export async function listenForControl(socketPath: string, handle: ControlHandler): Promise<ControlServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveConnection(socket, handle);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // end() lets an answer already written (to `stop`) reach its asker; a peer that does not close is cut off
      for (const socket of sockets) {
        socket.end();
        setTimeout(() => socket.destroy(), 1_000).unref();
      }
      await closed;
    },
  };
}

function serveConnection(socket: Socket, handle: ControlHandler): void {
  socket.on("error", () => {});
  socket.setEncoding("utf8");
  let buffered = "";
  let queue = Promise.resolve();
  socket.on("data", (text: string) => {
    buffered += text;
    if (buffered.length > maxLineBytes) {
      socket.destroy();
      return;
    }
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      queue = queue.then(async () => {
        const response = await answer(line, handle);
        if (!socket.destroyed) socket.write(`${JSON.stringify(response)}\n`);
      });
    }
  });
}

async function answer(line: string, handle: ControlHandler): Promise<ForwardControlResponse> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { type: "error", code: "bad-request", message: "a request must be one JSON object per line" };
  }
  const parsed = ForwardControlRequest.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
    return { type: "error", code: "bad-request", message: `invalid request: ${where}${issue?.message ?? "unknown"}` };
  }
  try {
    return await handle(parsed.data);
  } catch (error) {
    return { type: "error", code: "internal", message: error instanceof Error ? error.message : String(error) };
  }
}
