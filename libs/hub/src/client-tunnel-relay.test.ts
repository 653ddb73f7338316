import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { decodeTunnelFrame } from "@devenv/protocol";
import { ClientTunnelRelay } from "./client-tunnel-relay.ts";
import { startTestHub, type RunningHub } from "./testing/hub-fixture.ts";
import { TestAgent } from "./testing/test-agent.ts";

let running: RunningHub;
let relay: ClientTunnelRelay;
let agent: TestAgent;
const streamsClosed: number[] = [];
let base: string;

beforeAll(async () => {
  running = await startTestHub();
  running.backend.addCredential("agent-db", "cred-db");
  agent = await TestAgent.connect({ url: running.url, auth: { credential: "cred-db" }, autoAck: true });
  // the agent's end: echo each stream's bytes upper-cased; an empty frame ends the stream
  agent.socket.on("message", (data, isBinary) => {
    if (!isBinary) return;
    const frame = decodeTunnelFrame(data as Buffer);
    if (!frame.ok) return;
    const { streamId, data: bytes } = frame.message;
    if (bytes.length === 0) streamsClosed.push(streamId);
    else agent.sendTunnelData(streamId, Buffer.from(Buffer.from(bytes).toString("utf8").toUpperCase()));
  });
  relay = new ClientTunnelRelay({
    server: running.server,
    hub: running.hub,
    authorize: async (request, instanceId) => {
      if (request.headers.authorization !== "Bearer good") return { ok: false, status: 401, message: "a valid token is required" };
      if (instanceId !== "inst-1") return { ok: false, status: 404, message: `no instance ${instanceId}` };
      return { ok: true, agentId: "agent-db" };
    },
  });
  relay.start();
  base = running.url.replace(/\/agent$/, "/tunnel");
});

afterAll(async () => {
  relay?.close();
  await agent?.close();
  await running?.stop();
});

function open(path: string, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${base}/${path}`, { headers: { authorization: `Bearer ${token}` } });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

describe("ClientTunnelRelay", () => {
  it("passes bytes both ways through the instance's agent, several streams at once, and ends each stream on close", async () => {
    const [a, b] = await Promise.all([open("inst-1", "good"), open("inst-1", "good")]);
    const reply = (ws: WebSocket) => new Promise<string>((resolve) => ws.once("message", (data) => resolve(String(data))));
    const [ra, rb] = [reply(a), reply(b)];
    a.send(Buffer.from("select a"));
    b.send(Buffer.from("select b"));
    expect(await ra).toBe("SELECT A");
    expect(await rb).toBe("SELECT B");
    expect(relay.size).toBe(2);
    a.close();
    await new Promise((r) => setTimeout(r, 100));
    expect(streamsClosed).toHaveLength(1);
    expect(agent.commands().filter((c) => c.type === "tunnel-close")).toHaveLength(1);
    expect(relay.size).toBe(1);
    b.close();
  });

  it("refuses a bad token or an unknown instance with an HTTP status, before any stream opens", async () => {
    const opened = agent.commands().filter((c) => c.type === "tunnel-open").length;
    await expect(open("inst-1", "bad")).rejects.toThrow("HTTP 401");
    await expect(open("inst-2", "good")).rejects.toThrow("HTTP 404");
    expect(agent.commands().filter((c) => c.type === "tunnel-open").length).toBe(opened);
  });
});
