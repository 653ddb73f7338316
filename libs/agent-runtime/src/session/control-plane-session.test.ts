import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseAgentFrame } from "@devenv/protocol";
import type { AgentToControlPlane, ControlPlaneToAgent } from "@devenv/protocol";
import { WebSocketServer } from "ws";
import type { WebSocket } from "ws";
import { waitFor } from "../testing/wait-for.ts";
import { ControlPlaneSession } from "./control-plane-session.ts";
import type { SessionHandlers } from "./control-plane-session.ts";
import { LifecycleTracker } from "./lifecycle.ts";

/** A bare WebSocket server that plays the control plane's part as each test scripts it. */
async function scriptedServer(onHello: (socket: WebSocket, received: AgentToControlPlane[]) => void) {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  await new Promise<void>((resolve) => server.once("listening", () => resolve()));
  const received: AgentToControlPlane[] = [];
  let connections = 0;
  server.on("connection", (socket) => {
    connections += 1;
    socket.on("message", (data) => {
      const parsed = parseAgentFrame(String(data));
      if (!parsed.ok) throw new Error(`the agent sent an invalid frame: ${parsed.error}`);
      received.push(parsed.message);
      if (parsed.message.type === "hello") onHello(socket, received);
    });
  });
  const send = (socket: WebSocket, message: ControlPlaneToAgent | string) => socket.send(typeof message === "string" ? message : JSON.stringify(message));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/agent`,
    received,
    connections: () => connections,
    send,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

const sessions: ControlPlaneSession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.stop()));
});

function session(url: string, handlers: Partial<SessionHandlers> = {}) {
  const created = new ControlPlaneSession({
    url,
    hello: async () => ({ type: "hello", protocolVersion: 1, agentVersion: "test", identity: { provider: "local", hostname: "h" }, auth: { credential: "ac_x" } }),
    lifecycle: new LifecycleTracker(),
    health: async () => ({ cassandra: { reachable: true }, diskFreeBytes: 1, diskTotalBytes: 2, load1: 0 }),
    backoff: { initialMs: 20, maxMs: 100 },
    handlers: { onWelcome: async () => {}, onCommand: () => {}, onTunnelData: () => {}, onDisconnected: () => {}, onDismissed: () => {}, ...handlers },
  });
  sessions.push(created);
  created.start();
  return created;
}

describe("control-plane session", () => {
  it("heartbeats at the interval the welcome gives, and ignores malformed frames", async () => {
    const server = await scriptedServer((socket) => {
      server.send(socket, "{not json");
      server.send(socket, JSON.stringify({ type: "assign", commandId: "c" }));
      server.send(socket, { type: "welcome", agentId: "a1", heartbeatIntervalMs: 100 });
    });
    try {
      session(server.url);
      await waitFor("welcome", () => server.received.some((m) => m.type === "lifecycle"), 5_000, 5);
      const started = Date.now();
      await waitFor("five heartbeats", () => server.received.filter((m) => m.type === "heartbeat").length >= 5, 5_000, 5);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(300);
      expect(elapsed).toBeLessThan(1_500);
      expect(server.received.filter((m) => m.type === "heartbeat").map((m) => (m as { seq: number }).seq).slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    } finally {
      await server.close();
    }
  });

  it("keeps redialling a control plane that refuses it, with backoff", async () => {
    const server = await scriptedServer((socket) => {
      server.send(socket, { type: "error", code: "unauthorized", message: "unknown agent credential" });
      socket.close(4401, "unauthorized");
    });
    try {
      const opened = session(server.url);
      await waitFor("four attempts", () => server.connections() >= 4, 5_000);
      expect(opened.isOpen).toBe(false);
      expect(opened.connections).toBe(0);
    } finally {
      await server.close();
    }
  });

  it("stops when the control plane says goodbye without a reconnect hint", async () => {
    const dismissed: string[] = [];
    const server = await scriptedServer((socket) => {
      server.send(socket, { type: "welcome", agentId: "a1", heartbeatIntervalMs: 1_000 });
      server.send(socket, { type: "goodbye", reason: "host decommissioned" });
      setTimeout(() => socket.close(1000, "bye"), 50);
    });
    try {
      session(server.url, { onDismissed: (reason) => dismissed.push(reason) });
      await waitFor("dismissal", () => dismissed.length > 0);
      expect(dismissed).toEqual(["host decommissioned"]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(server.connections()).toBe(1);
    } finally {
      await server.close();
    }
  });
});
