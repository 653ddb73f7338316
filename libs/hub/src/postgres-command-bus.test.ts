import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { services } from "@devenv/testing";
import type { BusEvent } from "./command-bus.ts";
import { hubCloseCodes } from "./agent-hub.ts";
import { InMemoryHubBackend } from "./in-memory-backend.ts";
import { PostgresCommandBus } from "./postgres-command-bus.ts";
import { nextEvent, startTestHub } from "./testing/hub-fixture.ts";
import type { RunningHub } from "./testing/hub-fixture.ts";
import { ManualClock } from "@devenv/core/testing";
import { TestAgent } from "./testing/test-agent.ts";

/** A database of its own for this file: NOTIFY channels are per database. */
let databaseUrl: string;
let databaseName: string;

async function admin<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: services().postgres.url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  databaseName = `hub_bus_${randomBytes(5).toString("hex")}`;
  await admin((c) => c.query(`create database ${databaseName}`));
  const url = new URL(services().postgres.url);
  url.pathname = `/${databaseName}`;
  databaseUrl = url.toString();
});

afterAll(async () => {
  await admin((c) => c.query(`drop database if exists ${databaseName} with (force)`));
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** Two replicas: separate HTTP servers and buses, one shared outbox (as they would share the store). */
async function twoReplicas(): Promise<{ a: RunningHub; b: RunningHub; backend: InMemoryHubBackend }> {
  // one clock for both, as if their clocks agreed
  const clock = new ManualClock();
  const backend = new InMemoryHubBackend({ now: () => clock.now() });
  const replica = async (replicaId: string) => {
    const bus = new PostgresCommandBus({ connectionString: databaseUrl });
    const hub = await startTestHub({ backend, clock, bus, replicaId });
    cleanup.push(async () => {
      await hub.stop();
      await bus.close();
    });
    return hub;
  };
  return { a: await replica("replica-a"), b: await replica("replica-b"), backend };
}

describe("PostgresCommandBus", () => {
  it("carries notices between two buses, the sender's own included", async () => {
    const one = new PostgresCommandBus({ connectionString: databaseUrl });
    const two = new PostgresCommandBus({ connectionString: databaseUrl });
    cleanup.push(() => one.close(), () => two.close());
    const seenByOne: BusEvent[] = [];
    const seenByTwo: BusEvent[] = [];
    await one.subscribe((e) => seenByOne.push(e));
    await two.subscribe((e) => seenByTwo.push(e));
    await one.publish({ kind: "command", agentId: "agent-1", replicaId: "one" });
    await expect.poll(() => seenByTwo, { timeout: 5_000 }).toEqual([{ kind: "command", agentId: "agent-1", replicaId: "one" }]);
    await expect.poll(() => seenByOne, { timeout: 5_000 }).toHaveLength(1);
  });

  it("resubscribes after its listening session is killed and asks for a resync", async () => {
    const bus = new PostgresCommandBus({ connectionString: databaseUrl, reconnectDelayMs: { min: 50, max: 200 } });
    cleanup.push(() => bus.close());
    const seen: BusEvent[] = [];
    await bus.subscribe((e) => seen.push(e));
    await admin((c) =>
      c.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and query ilike 'listen %'", [databaseName]),
    );
    await expect.poll(() => seen, { timeout: 10_000 }).toContainEqual({ kind: "resync" });
    await bus.publish({ kind: "command", agentId: "agent-2", replicaId: "x" });
    await expect.poll(() => seen, { timeout: 5_000 }).toContainEqual({ kind: "command", agentId: "agent-2", replicaId: "x" });
  });
});

describe("hubs on two replicas", () => {
  it("delivers a command enqueued on replica A to the agent connected to replica B", async () => {
    const { a, b, backend } = await twoReplicas();
    const agent = await TestAgent.connect({ url: b.url, auth: { joinToken: backend.issueJoinToken("agent-1") }, autoAck: true });
    cleanup.push(async () => agent.terminate());
    expect(a.hub.connectedAgents()).toEqual([]);

    const ackedOnB = nextEvent(b.hub, "command-acked");
    const command = await a.hub.sendCommand("agent-1", {
      type: "tunnel-open",
      streamId: 1,
    });
    expect(await ackedOnB).toEqual({ agentId: "agent-1", commandId: command.commandId });
    expect(agent.commands().map((c) => c.commandId)).toEqual([command.commandId]);
    expect(agent.invalidFrames).toEqual([]);
  });

  it("closes the stale socket on replica A when the agent reconnects to replica B", async () => {
    const { a, b, backend } = await twoReplicas();
    const token = backend.issueJoinToken("agent-1");
    const onA = await TestAgent.connect({ url: a.url, auth: { joinToken: token } });
    const credential = onA.welcome?.credential ?? "";
    a.clock.advance(1_000); // the clock both replicas share
    const onB = await TestAgent.connect({ url: b.url, auth: { credential } });
    cleanup.push(async () => {
      onA.terminate();
      onB.terminate();
    });
    expect((await onA.closed).code).toBe(hubCloseCodes.replaced);
    expect(a.hub.connectedAgents()).toEqual([]);
    expect(b.hub.connectedAgents()).toEqual(["agent-1"]);

    // regression: a late notice about the older session on A closed the newer one on B
    const late = new PostgresCommandBus({ connectionString: databaseUrl });
    cleanup.push(() => late.close());
    await late.publish({ kind: "session-opened", agentId: "agent-1", replicaId: "replica-a", openedAt: a.clock.now() - 1_000 });
    // notices arrive in commit order: once this command reaches the agent, B has seen the late notice
    const command = await a.hub.sendCommand("agent-1", { type: "tunnel-open", streamId: 9 });
    await onB.waitFor((m) => "commandId" in m && m.commandId === command.commandId);
    expect(b.hub.connectedAgents()).toEqual(["agent-1"]);
  });
});
