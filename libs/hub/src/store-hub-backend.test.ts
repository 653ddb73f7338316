import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Agent, type Store } from "@devenv/store";
import { AgentHub } from "./agent-hub.ts";
import { StoreHubBackend, type AgentReports } from "./store-hub-backend.ts";
import { TestAgent, TestAgentRefusedError, healthyAgentHealth } from "./testing/test-agent.ts";

let dir: string;
let store: Store;
let server: Server;
let hub: AgentHub;
let url: string;
/** What the backend forwarded, in order, as `<report> <agent's instance> <detail>`. */
const reports: string[] = [];
const forwarded: AgentReports = {
  agentRegistered: async (agent: Agent) => void reports.push(`registered ${agent.instanceId}`),
  agentConnected: async (agent) => void reports.push(`connected ${agent.instanceId}`),
  agentLifecycle: async (agent, lifecycle) => void reports.push(`lifecycle ${agent.instanceId} ${lifecycle.state}`),
  agentHeartbeat: async (agent, health) => void reports.push(`heartbeat ${agent.instanceId} ${health.cqlRequests}`),
  agentProgress: async (agent, progress) => void reports.push(`progress ${agent.instanceId} ${progress.assignmentId} ${progress.rows}`),
  agentResult: async (agent, result) => void reports.push(`result ${agent.instanceId} ${result.assignmentId} ${result.ok}`),
  assignmentDelivered: async (agent, assignmentId) => void reports.push(`delivered ${agent.instanceId} ${assignmentId}`),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-store-hub-"));
  store = await openStore({ url: `sqlite:${join(dir, "devenv.db")}` });
  server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hub = new AgentHub({ server, backend: new StoreHubBackend({ store, reports: forwarded }), heartbeatIntervalMs: 1000 });
  await hub.start();
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/agent`;
});

afterAll(async () => {
  await hub?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

async function newInstance() {
  const owner = await store.users.create({ name: `dev-${Math.random().toString(36).slice(2, 8)}`, role: "developer" });
  const instance = await store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "local" });
  await store.instances.transition(instance.id, { to: "provisioning" });
  const { plaintext } = await store.joinTokens.issue(instance.id);
  return { instance, joinToken: plaintext };
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const reportsOf = (instanceId: string) => reports.filter((line) => line.split(" ")[1] === instanceId);

describe("StoreHubBackend", () => {
  it("registers an agent once with its join token, then only with its credential", async () => {
    const { instance, joinToken } = await newInstance();
    const agent = await TestAgent.connect({ url, auth: { joinToken } });
    const credential = agent.welcome?.credential;
    expect(credential).toBeDefined();
    expect((await store.agents.get(agent.agentId)).instanceId).toBe(instance.id);
    await agent.close();

    await expect(TestAgent.connect({ url, auth: { joinToken } })).rejects.toBeInstanceOf(TestAgentRefusedError);
    const again = await TestAgent.connect({ url, auth: { credential: credential! } });
    expect(again.agentId).toBe(agent.agentId);
    expect(again.welcome?.credential).toBeUndefined();
    await again.close();
    await expect(TestAgent.connect({ url, auth: { credential: "forged" } })).rejects.toBeInstanceOf(TestAgentRefusedError);
    expect(reportsOf(instance.id)).toEqual([`registered ${instance.id}`, `connected ${instance.id}`, `connected ${instance.id}`]);
  });

  it("keeps the outbox and the agent's own state, and forwards what the agent says about its instance", async () => {
    const { instance, joinToken } = await newInstance();
    const agent = await TestAgent.connect({ url, auth: { joinToken } });
    const command = await hub.sendCommand(agent.agentId, {
      type: "assign",
      assignmentId: "a-1",
      idempotencyKey: "a-1",
      snapshot: { id: "s-1", manifestUrl: "http://127.0.0.1:1/m.json", chunkUrlTemplate: "http://127.0.0.1:1/c/{sha256}" },
      targetKeyspace: "devenv",
    });
    const received = await agent.waitFor((m) => m.type === "assign");
    if (received.type !== "assign") throw new Error("expected assign");
    agent.ack(received.commandId);
    await until(async () => (await store.commands.pending(agent.agentId)).length === 0);
    expect(received.commandId).toBe(command.commandId);
    agent.lifecycle("downloading");
    agent.send({ type: "progress", assignmentId: "a-1", phase: "load", bytes: 10, totalBytes: 20, rows: 5, totalRows: 10 });
    agent.send({ type: "result", assignmentId: "a-1", ok: true, snapshotId: "s-1" });
    agent.heartbeat({ ...healthyAgentHealth, cqlRequests: 140, clientConnections: 0 });
    await until(async () => reportsOf(instance.id).some((line) => line.startsWith("heartbeat")));
    expect(reportsOf(instance.id).slice(2)).toEqual([
      `delivered ${instance.id} a-1`,
      `lifecycle ${instance.id} downloading`,
      `progress ${instance.id} a-1 5`,
      `result ${instance.id} a-1 true`,
      `heartbeat ${instance.id} 140`,
    ]);
    expect((await store.agents.get(agent.agentId)).state).toBe("downloading");
    await agent.close();
  });
});
