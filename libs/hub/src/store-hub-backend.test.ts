import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store } from "@devenv/store";
import { AgentHub } from "./agent-hub.ts";
import { StoreHubBackend } from "./store-hub-backend.ts";
import { TestAgent, TestAgentRefusedError, healthyAgentHealth } from "./testing/test-agent.ts";

let dir: string;
let store: Store;
let server: Server;
let hub: AgentHub;
let url: string;
const interruptions: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-store-hub-"));
  store = await openStore({ url: `sqlite:${join(dir, "devenv.db")}` });
  server = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hub = new AgentHub({ server, backend: new StoreHubBackend({ store, onInterruption: (i) => interruptions.push(i.id) }), heartbeatIntervalMs: 1000 });
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

const stateOf = async (id: string) => (await store.instances.get(id)).state;

describe("StoreHubBackend", () => {
  it("registers an agent once with its join token, then only with its credential", async () => {
    const { instance, joinToken } = await newInstance();
    const agent = await TestAgent.connect({ url, auth: { joinToken } });
    const credential = agent.welcome?.credential;
    expect(credential).toBeDefined();
    expect(await stateOf(instance.id)).toBe("registering");
    expect((await store.agents.get(agent.agentId)).instanceId).toBe(instance.id);
    await agent.close();

    await expect(TestAgent.connect({ url, auth: { joinToken } })).rejects.toBeInstanceOf(TestAgentRefusedError);
    const again = await TestAgent.connect({ url, auth: { credential: credential! } });
    expect(again.agentId).toBe(agent.agentId);
    expect(again.welcome?.credential).toBeUndefined();
    await again.close();
    await expect(TestAgent.connect({ url, auth: { credential: "forged" } })).rejects.toBeInstanceOf(TestAgentRefusedError);
  });

  it("turns an assignment's delivery, progress and result into catalogue facts, and the instance ready", async () => {
    const { instance, joinToken } = await newInstance();
    const snapshot = await store.snapshots.create({ location: "/tmp/store", sourceDescription: "test", status: "ready" });
    const agent = await TestAgent.connect({ url, auth: { joinToken } });
    const assignment = await store.assignments.create({ instanceId: instance.id, snapshotId: snapshot.id });
    await hub.sendCommand(agent.agentId, {
      type: "assign",
      assignmentId: assignment.id,
      idempotencyKey: assignment.id,
      snapshot: { id: snapshot.id, manifestUrl: "http://127.0.0.1:1/m.json", chunkUrlTemplate: "http://127.0.0.1:1/c/{sha256}" },
      targetKeyspace: "devenv",
    });
    const command = await agent.waitFor((m) => m.type === "assign");
    if (command.type !== "assign") throw new Error("expected assign");
    agent.ack(command.commandId);
    await until(async () => (await store.assignments.get(assignment.id)).state === "sent");
    agent.lifecycle("downloading");
    await until(async () => (await stateOf(instance.id)) === "restoring");
    agent.send({ type: "progress", assignmentId: assignment.id, phase: "load", bytes: 10, totalBytes: 20, rows: 5, totalRows: 10 });
    await until(async () => (await store.assignments.get(assignment.id)).progress?.rows === 5);
    agent.send({ type: "result", assignmentId: assignment.id, ok: true, snapshotId: snapshot.id });
    agent.lifecycle("ready");
    await until(async () => (await stateOf(instance.id)) === "ready");
    expect((await store.assignments.get(assignment.id)).state).toBe("succeeded");
    expect((await store.instances.get(instance.id)).currentSnapshotId).toBe(snapshot.id);
    expect(await store.commands.pending(agent.agentId)).toEqual([]);
    await agent.close();
  });

  it("marks an instance with nothing to restore ready when its agent is idle", async () => {
    const { instance, joinToken } = await newInstance();
    const agent = await TestAgent.connect({ url, auth: { joinToken } });
    agent.lifecycle("idle");
    await until(async () => (await stateOf(instance.id)) === "ready");
    await agent.close();
  });

  it("counts real database use as activity, not an open socket; reports an interruption", async () => {
    const { instance, joinToken } = await newInstance();
    const agent = await TestAgent.connect({ url, auth: { joinToken } });
    const before = (await store.instances.get(instance.id)).lastActivityAt;
    agent.heartbeat({ ...healthyAgentHealth, cqlRequests: 100, clientConnections: 0 });
    agent.heartbeat({ ...healthyAgentHealth, cqlRequests: 100, clientConnections: 0 });
    await until(async () => (await store.agents.get(agent.agentId)).lastHeartbeatAt !== null);
    await new Promise((r) => setTimeout(r, 200));
    expect((await store.instances.get(instance.id)).lastActivityAt).toBe(before);
    agent.heartbeat({ ...healthyAgentHealth, cqlRequests: 140, clientConnections: 0 });
    await until(async () => (await store.instances.get(instance.id)).lastActivityAt !== before);
    agent.lifecycle("idle");
    agent.lifecycle("interrupting", { detail: "spot notice: terminate at 2026-11-25T23:59:00Z" });
    await until(async () => interruptions.includes(instance.id));
    await agent.close();
  });
});
