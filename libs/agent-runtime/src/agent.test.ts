import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import type { Server, Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentLifecycleState, ProgressMessage, ResultMessage } from "@devenv/protocol";
import { cassandraClient, createKeyspace, services, uniqueName } from "@devenv/testing";
import { Agent } from "./agent.ts";
import type { AgentOptions } from "./agent.ts";
import { InstanceMetadata } from "./identity/instance-metadata.ts";
import { startHubServer } from "./testing/hub-server.ts";
import type { HubServer } from "./testing/hub-server.ts";
import { startMetadataTestServer } from "./testing/metadata-test-server.ts";
import { exportTestSnapshot, rowsOf } from "./testing/snapshot-fixture.ts";
import { startSnapshotTestServer } from "./testing/snapshot-test-server.ts";
import type { SnapshotTestServer } from "./testing/snapshot-test-server.ts";
import { waitFor } from "./testing/wait-for.ts";

describe("agent against a real hub and a real Cassandra", () => {
  let client: cassandra.Client;
  let dir: string;
  let hub: HubServer;
  let snapshots: SnapshotTestServer;
  let source1: string;
  let source2: string;
  const agents: Agent[] = [];

  beforeAll(async () => {
    client = await cassandraClient();
    dir = mkdtempSync(join(tmpdir(), "devenv-agent-"));
    source1 = await exportTestSnapshot(client, { storeDir: join(dir, "store"), snapshotId: "s1", items: 3_000, tallies: 300, chunkCount: 4 });
    source2 = await exportTestSnapshot(client, { storeDir: join(dir, "store"), snapshotId: "s2", items: 500, tallies: 50, chunkCount: 4 });
    snapshots = await startSnapshotTestServer(join(dir, "store"));
    hub = await startHubServer();
  });

  afterAll(async () => {
    await Promise.allSettled(agents.map((agent) => agent.stop()));
    await hub?.stop();
    await snapshots?.close();
    await client?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function startAgent(options: Partial<AgentOptions> & { stateDir: string }): Promise<Agent> {
    const agent = new Agent({
      controlPlaneUrl: hub.url,
      cassandra: { contactPoint: services().cassandra.contactPoint, localDataCenter: services().cassandra.localDataCenter },
      dataVolume: dir,
      identity: { provider: "local", hostname: "test-host" },
      agentVersion: "0.0.0-test",
      reconnectBackoff: { initialMs: 20, maxMs: 300 },
      healthCheckIntervalMs: 1_000,
      progressIntervalMs: 20,
      restore: { loadPath: "cql" },
      ...options,
    });
    agents.push(agent);
    return agent.start().then(() => agent);
  }

  const lifecycleOf = (agentId: string): AgentLifecycleState[] => hub.backend.record(agentId).lifecycle.map((l) => l.state);
  const resultsOf = (agentId: string, assignmentId: string): ResultMessage[] =>
    hub.events.filter((e) => e.name === "agent-result").map((e) => (e.payload as { agentId: string; result: ResultMessage })).filter((e) => e.agentId === agentId && e.result.assignmentId === assignmentId).map((e) => e.result);
  const progressOf = (agentId: string, assignmentId: string): ProgressMessage[] =>
    hub.events.filter((e) => e.name === "agent-progress").map((e) => e.payload as { agentId: string; progress: ProgressMessage }).filter((e) => e.agentId === agentId && e.progress.assignmentId === assignmentId).map((e) => e.progress);
  const connections = (agentId: string) => hub.events.filter((e) => e.name === "agent-connected" && (e.payload as { agentId: string }).agentId === agentId).length;

  it("registers with its join token, keeps the credential 0600 and reuses it after a restart", async () => {
    const stateDir = join(dir, "agent-1");
    const joinToken = hub.backend.issueJoinToken("agent-1");
    const first = await startAgent({ stateDir, joinToken });
    await waitFor("agent-1 idle", () => lifecycleOf("agent-1").includes("idle"));
    expect(lifecycleOf("agent-1").slice(0, 3)).toEqual(["booting", "registering", "idle"]);
    expect(statSync(join(stateDir, "credential")).mode & 0o777).toBe(0o600);
    const credential = readFileSync(join(stateDir, "credential"), "utf8");
    await waitFor("a heartbeat with health", () => hub.backend.record("agent-1").lastHeartbeat);
    const health = hub.backend.record("agent-1").lastHeartbeat!.health;
    expect(health.cassandra).toEqual({ reachable: true, version: expect.stringMatching(/^5\.0\./) });
    expect(health.diskTotalBytes).toBeGreaterThan(health.diskFreeBytes);

    await first.stop();
    await waitFor("agent-1 stopped", () => lifecycleOf("agent-1").at(-1) === "stopped");
    expect(lifecycleOf("agent-1").slice(-2)).toEqual(["draining", "stopped"]);

    // the join token is spent: only the stored credential can bring the agent back
    await startAgent({ stateDir });
    await waitFor("agent-1 back", () => connections("agent-1") === 2);
    expect(readFileSync(join(stateDir, "credential"), "utf8")).toBe(credential);
  });

  it("reconnects after the control plane restarts, and tells the new session its state", async () => {
    const before = connections("agent-1");
    const { backend, port } = hub;
    const beforeLifecycle = lifecycleOf("agent-1").length;
    await hub.stop();
    hub = await startHubServer({ backend, port });
    await waitFor("agent-1 reconnected", () => hub.hub.connectedAgents().includes("agent-1"), 10_000);
    expect(connections("agent-1")).toBe(1);
    expect(before).toBe(2);
    await waitFor("lifecycle told again", () => lifecycleOf("agent-1").length > beforeLifecycle);
    expect(lifecycleOf("agent-1").at(-1)).toBe("idle");
  });

  it("restores with live progress, once per idempotency key, with identical data", async () => {
    const target = uniqueName("dst");
    const assign = { type: "assign" as const, assignmentId: "a-restore", idempotencyKey: "k-restore", snapshot: snapshots.locationOf("s1"), targetKeyspace: target };
    await hub.hub.sendCommand("agent-1", assign);
    const [result] = await waitFor("the result", () => resultsOf("agent-1", "a-restore").length > 0 && resultsOf("agent-1", "a-restore"));
    expect(result).toEqual({ type: "result", assignmentId: "a-restore", snapshotId: "s1", ok: true });
    const progress = progressOf("agent-1", "a-restore");
    expect(new Set(progress.map((p) => p.phase))).toEqual(new Set(["download", "schema", "load", "done"]));
    expect(progress.at(-1)).toMatchObject({ phase: "done", rows: 3_300, totalRows: 3_300 });
    expect(lifecycleOf("agent-1").slice(-3)).toEqual(["downloading", "restoring", "ready"]);
    expect(await rowsOf(client, target, "items")).toEqual(await rowsOf(client, source1, "items"));
    expect(await rowsOf(client, target, "tallies")).toEqual(await rowsOf(client, source1, "tallies"));
    await waitFor("health names the snapshot", () => hub.backend.record("agent-1").lastHeartbeat?.health.currentSnapshotId === "s1");

    // the same assignment delivered again (a new command): answered, not restored again
    const progressBefore = progressOf("agent-1", "a-restore").length;
    await hub.hub.sendCommand("agent-1", assign, { idempotencyKey: "redelivery" });
    await waitFor("the second result", () => resultsOf("agent-1", "a-restore").length === 2);
    expect(resultsOf("agent-1", "a-restore")[1]).toEqual(result);
    expect(progressOf("agent-1", "a-restore")).toHaveLength(progressBefore);
    const state = JSON.parse(readFileSync(join(dir, "agent-1", "assignments.json"), "utf8")) as { assignments: unknown[] };
    expect(state.assignments).toHaveLength(1);
  });

  it("reports a corrupted chunk as a failed result and leaves the old keyspace intact", async () => {
    const target = await createKeyspace(client, "current");
    await client.execute(`CREATE TABLE ${target}.precious (id int PRIMARY KEY, note text)`);
    await client.execute(`INSERT INTO ${target}.precious (id, note) VALUES (1, 'still here')`);
    const manifest = JSON.parse(readFileSync(join(dir, "store", "snapshots", "s2", "manifest.json"), "utf8")) as { tables: { chunks: { sha256: string }[] }[] };
    const victim = manifest.tables[0]!.chunks[1]!.sha256;
    snapshots.corrupt.add(victim);
    try {
      await hub.hub.sendCommand("agent-1", { type: "assign", assignmentId: "a-corrupt", idempotencyKey: "k-corrupt", snapshot: snapshots.locationOf("s2"), targetKeyspace: target });
      const [result] = await waitFor("the result", () => resultsOf("agent-1", "a-corrupt").length > 0 && resultsOf("agent-1", "a-corrupt"));
      expect(result).toMatchObject({ ok: false, snapshotId: "s2", error: expect.stringMatching(new RegExp(`corrupt: chunk ${victim} .* is corrupt`)) });
    } finally {
      snapshots.corrupt.delete(victim);
    }
    const rows = await client.execute(`SELECT note FROM ${target}.precious WHERE id = 1`);
    expect(rows.first()?.get("note")).toBe("still here");
    // s1 is still what the host serves
    expect(lifecycleOf("agent-1").at(-1)).toBe("ready");
    await waitFor("health reports the failure", () => hub.backend.record("agent-1").lastHeartbeat?.health.lastRestore?.ok === false);
    expect(hub.backend.record("agent-1").lastHeartbeat?.health.currentSnapshotId).toBe("s1");
  });

  it("queues a second assignment behind a running one, and a cancel during download keeps the old data", async () => {
    const stateDir = join(dir, "agent-2");
    await startAgent({ stateDir, joinToken: hub.backend.issueJoinToken("agent-2") });
    await waitFor("agent-2 idle", () => lifecycleOf("agent-2").includes("idle"));
    const slowTarget = await createKeyspace(client, "current");
    await client.execute(`CREATE TABLE ${slowTarget}.precious (id int PRIMARY KEY, note text)`);
    await client.execute(`INSERT INTO ${slowTarget}.precious (id, note) VALUES (1, 'still here')`);
    const queuedTarget = uniqueName("dst");
    snapshots.chunkDelayMs = 1_500;
    await hub.hub.sendCommand("agent-2", { type: "assign", assignmentId: "a-slow", idempotencyKey: "k-slow", snapshot: snapshots.locationOf("s1"), targetKeyspace: slowTarget });
    await waitFor("downloading", () => lifecycleOf("agent-2").includes("downloading"));
    await hub.hub.sendCommand("agent-2", { type: "assign", assignmentId: "a-queued", idempotencyKey: "k-queued", snapshot: snapshots.locationOf("s2"), targetKeyspace: queuedTarget });
    await waitFor("the queued assign acked", () => hub.backend.record("agent-2") && hub.events.filter((e) => e.name === "command-acked" && (e.payload as { agentId: string }).agentId === "agent-2").length >= 2);
    expect(progressOf("agent-2", "a-queued")).toEqual([]);
    await hub.hub.sendCommand("agent-2", { type: "cancel", assignmentId: "a-slow" });
    snapshots.chunkDelayMs = 0;
    const [cancelled] = await waitFor("the cancelled result", () => resultsOf("agent-2", "a-slow").length > 0 && resultsOf("agent-2", "a-slow"));
    expect(cancelled).toMatchObject({ ok: false, error: "cancelled by the control plane" });
    const [queued] = await waitFor("the queued one's result", () => resultsOf("agent-2", "a-queued").length > 0 && resultsOf("agent-2", "a-queued"), 30_000);
    expect(queued).toMatchObject({ ok: true, snapshotId: "s2" });
    const rows = await client.execute(`SELECT note FROM ${slowTarget}.precious WHERE id = 1`);
    expect(rows.first()?.get("note")).toBe("still here");
    expect(await rowsOf(client, queuedTarget, "items")).toEqual(await rowsOf(client, source2, "items"));
  });

  it("checkpoints a running restore on stop and resumes it at the next start", async () => {
    const stateDir = join(dir, "agent-5");
    const first = await startAgent({ stateDir, joinToken: hub.backend.issueJoinToken("agent-5") });
    await waitFor("agent-5 idle", () => lifecycleOf("agent-5").includes("idle"));
    const target = uniqueName("dst");
    snapshots.chunkDelayMs = 1_000;
    try {
      await hub.hub.sendCommand("agent-5", { type: "assign", assignmentId: "a-stop", idempotencyKey: "k-stop", snapshot: snapshots.locationOf("s2"), targetKeyspace: target });
      await waitFor("downloading", () => lifecycleOf("agent-5").includes("downloading"));
      await first.stop();
    } finally {
      snapshots.chunkDelayMs = 0;
    }
    expect(lifecycleOf("agent-5").slice(-2)).toEqual(["draining", "stopped"]);
    expect(resultsOf("agent-5", "a-stop")).toEqual([]);
    const state = JSON.parse(readFileSync(join(stateDir, "assignments.json"), "utf8")) as { assignments: { status: string }[] };
    expect(state.assignments.map((a) => a.status)).toEqual(["running"]);

    await startAgent({ stateDir });
    const [result] = await waitFor("the resumed result", () => resultsOf("agent-5", "a-stop").length > 0 && resultsOf("agent-5", "a-stop"), 30_000);
    expect(result).toMatchObject({ ok: true, snapshotId: "s2" });
    expect(await rowsOf(client, target, "items")).toEqual(await rowsOf(client, source2, "items"));
    expect(await rowsOf(client, target, "tallies")).toEqual(await rowsOf(client, source2, "tallies"));
  });

  it("reads its identity from instance metadata and reports a spot interruption notice", async () => {
    const imds = await startMetadataTestServer({ instanceId: "i-0spot", instanceType: "r7g.large", region: "eu-west-1", zone: "eu-west-1a", lifecycle: "spot" });
    try {
      const metadata = new InstanceMetadata({ endpoint: imds.url });
      await startAgent({
        stateDir: join(dir, "agent-3"),
        joinToken: hub.backend.issueJoinToken("agent-3", { instanceId: "i-0spot" }),
        identity: { provider: "ec2", metadata, hostname: "spot-host" },
        spotMetadata: metadata,
        spotPollIntervalMs: 100,
      });
      await waitFor("agent-3 idle", () => lifecycleOf("agent-3").includes("idle"));
      expect(hub.backend.record("agent-3").identity).toEqual({ provider: "ec2", hostname: "spot-host", instanceId: "i-0spot", instanceType: "r7g.large", region: "eu-west-1", zone: "eu-west-1a", lifecycle: "spot" });
      imds.documents.set("/meta-data/spot/instance-action", JSON.stringify({ action: "terminate", time: "2026-11-26T00:02:00Z" }));
      const interruption = await waitFor("the interruption", () => hub.events.find((e) => e.name === "agent-interruption"));
      expect(interruption.payload).toEqual({ agentId: "agent-3", deadline: "2026-11-26T00:02:00.000Z" });
      await waitFor("interrupting", () => lifecycleOf("agent-3").at(-1) === "interrupting");
    } finally {
      await imds.close();
    }
  });

  it("tunnels a stream to the local TCP port and back, and closes it on tunnel-close", async () => {
    // the agent's health probe dials this port too: the tunnel's socket is the one that carried the payload
    const tunnelled: Socket[] = [];
    const echo: Server = createServer((socket) => {
      socket.on("data", (data) => {
        if (data.includes(Buffer.from([0, 1, 2, 255]))) tunnelled.push(socket);
        if (socket.writable) socket.write(Buffer.concat([Buffer.from("echo:"), data]));
      });
    });
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    try {
      await startAgent({
        stateDir: join(dir, "agent-4"),
        joinToken: hub.backend.issueJoinToken("agent-4"),
        cassandra: { contactPoint: `127.0.0.1:${(echo.address() as AddressInfo).port}` },
      });
      await waitFor("agent-4 connected", () => hub.hub.connectedAgents().includes("agent-4"));
      const received: Buffer[] = [];
      hub.hub.on("tunnel-data", ({ agentId, streamId, data }) => {
        if (agentId === "agent-4" && streamId === 7) received.push(Buffer.from(data));
      });
      const open = await hub.hub.sendCommand("agent-4", { type: "tunnel-open", streamId: 7 });
      await waitFor("tunnel-open acked", () => hub.events.some((e) => e.name === "command-acked" && (e.payload as { commandId: string }).commandId === open.commandId));
      expect(hub.hub.sendTunnelData("agent-4", 7, Buffer.from([0, 1, 2, 255]))).toBe(true);
      await waitFor("the echo", () => Buffer.concat(received).length >= 9);
      expect(Buffer.concat(received)).toEqual(Buffer.concat([Buffer.from("echo:"), Buffer.from([0, 1, 2, 255])]));
      await hub.hub.sendCommand("agent-4", { type: "tunnel-close", streamId: 7 });
      expect(tunnelled).toHaveLength(1);
      await waitFor("the TCP side closed", () => tunnelled[0]!.readableEnded || tunnelled[0]!.destroyed, 1_000, 5);

      // when the local side closes first, the agent says so with an empty frame
      const ended: number[] = [];
      hub.hub.on("tunnel-data", ({ agentId, streamId, data }) => {
        if (agentId === "agent-4" && data.length === 0) ended.push(streamId);
      });
      const open8 = await hub.hub.sendCommand("agent-4", { type: "tunnel-open", streamId: 8 });
      await waitFor("stream 8 open", () => hub.events.some((e) => e.name === "command-acked" && (e.payload as { commandId: string }).commandId === open8.commandId));
      hub.hub.sendTunnelData("agent-4", 8, Buffer.from([0, 1, 2, 255]));
      await waitFor("stream 8 connected", () => tunnelled.length === 2);
      tunnelled[1]!.end();
      await waitFor("the empty frame for stream 8", () => ended.includes(8));
    } finally {
      echo.close();
    }
  });

  it("keeps nothing of the restore work but the chunk cache once done", () => {
    expect(readdirSync(join(dir, "agent-1", "restore", "journals"))).toEqual([]);
  });
});
