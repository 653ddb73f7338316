import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Store, type StoreDialect } from "@devenv/store";
import { services, uniqueName } from "@devenv/testing";
import { AgentHub, hubCloseCodes } from "./agent-hub.ts";
import type { BusEvent } from "./command-bus.ts";
import type { HubLogger } from "./hub-logger.ts";
import { StoreCommandBus, commandBusChannel } from "./store-command-bus.ts";
import { StoreHubBackend } from "./store-hub-backend.ts";
import { nextEvent } from "./testing/hub-fixture.ts";
import { ManualClock } from "@devenv/core/testing";
import { TestAgent } from "./testing/test-agent.ts";
import { unheardReports } from "./testing/unheard-reports.ts";

async function admin<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: services().postgres.url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Kills every LISTEN session of a database, as a failover or a network cut would. */
async function killListeners(databaseUrl: string): Promise<void> {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const killed = await admin((c) =>
    c.query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and query ~* '^(un)?listen '", [database]),
  );
  expect(killed.rowCount).toBeGreaterThan(0);
}

/** Records what the bus logs, to see that a bad payload is reported and not thrown. */
function recordingLogger(): HubLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug: () => {}, info: () => {}, warn: (_fields, message) => warnings.push(message), error: () => {} };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

describe.each<StoreDialect>(["sqlite", "postgres"])("StoreCommandBus on %s", (dialect) => {
  let url: string;
  let tempDir: string | undefined;
  let databaseName: string | undefined;

  beforeAll(async () => {
    if (dialect === "sqlite") {
      tempDir = await mkdtemp(join(tmpdir(), "devenv-hub-bus-"));
      url = `sqlite:${join(tempDir, "devenv.db")}`;
      return;
    }
    // a database of its own: notification channels are per database
    databaseName = uniqueName("hub_bus");
    await admin((c) => c.query(`create database ${c.escapeIdentifier(databaseName ?? "")}`));
    const databaseUrl = new URL(services().postgres.url);
    databaseUrl.pathname = `/${databaseName}`;
    url = databaseUrl.toString();
  });

  afterAll(async () => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    if (databaseName) await admin((c) => c.query(`drop database if exists ${c.escapeIdentifier(databaseName ?? "")} with (force)`));
  });

  /** A store of one replica: every replica opens its own on the same database. */
  async function replicaStore(): Promise<Store> {
    const store = await openStore({ url });
    cleanup.push(() => store.close());
    return store;
  }

  function busOn(store: Store, logger?: HubLogger): StoreCommandBus {
    const bus = new StoreCommandBus({ store, logger });
    cleanup.push(() => bus.close());
    return bus;
  }

  /** A replica: its own store, bus, HTTP server and hub; both share the clock, as if their clocks agreed. */
  async function replica(replicaId: string, clock: ManualClock) {
    const store = await replicaStore();
    const bus = busOn(store);
    const server = createServer((_request, response) => response.writeHead(404).end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const hub = new AgentHub({ server, backend: new StoreHubBackend({ store, reports: unheardReports }), bus, clock, replicaId });
    await hub.start();
    cleanup.push(async () => {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return { store, bus, hub, url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}${hub.path}` };
  }

  async function joinToken(store: Store): Promise<string> {
    const owner = await store.users.create({ name: uniqueName("dev"), role: "developer" });
    const instance = await store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "local" });
    await store.instances.transition(instance.id, { to: "provisioning" });
    return (await store.joinTokens.issue(instance.id)).plaintext;
  }

  it("carries notices between the buses of two stores, the sender's own included", async () => {
    const one = busOn(await replicaStore());
    const two = busOn(await replicaStore());
    const seenByOne: BusEvent[] = [];
    const seenByTwo: BusEvent[] = [];
    await one.subscribe((e) => seenByOne.push(e));
    await two.subscribe((e) => seenByTwo.push(e));
    await one.publish({ kind: "command", agentId: "agent-1", replicaId: "one" });
    await expect.poll(() => seenByTwo, { timeout: 5_000 }).toEqual([{ kind: "command", agentId: "agent-1", replicaId: "one" }]);
    await expect.poll(() => seenByOne, { timeout: 5_000 }).toEqual([{ kind: "command", agentId: "agent-1", replicaId: "one" }]);
  });

  it("ignores and logs a payload that is not a notice, and keeps delivering the ones after it", async () => {
    const store = await replicaStore();
    const logger = recordingLogger();
    const bus = busOn(store, logger);
    const seen: BusEvent[] = [];
    await bus.subscribe((e) => seen.push(e));
    await store.notifications.publish(commandBusChannel, "not json");
    await store.notifications.publish(commandBusChannel, JSON.stringify({ kind: "command", agentId: "agent-1" }));
    await bus.publish({ kind: "session-opened", agentId: "agent-1", replicaId: "one", openedAt: 5 });
    await expect.poll(() => seen, { timeout: 5_000 }).toHaveLength(1);
    expect(seen).toEqual([{ kind: "session-opened", agentId: "agent-1", replicaId: "one", openedAt: 5 }]);
    expect(logger.warnings).toEqual(["command bus: ignoring an unreadable notice", "command bus: ignoring an unreadable notice"]);
  });

  it("delivers a command enqueued on replica A to the agent connected to replica B", async () => {
    const clock = new ManualClock();
    const a = await replica("replica-a", clock);
    const b = await replica("replica-b", clock);
    const agent = await TestAgent.connect({ url: b.url, auth: { joinToken: await joinToken(a.store) }, autoAck: true });
    cleanup.push(async () => agent.terminate());
    expect(a.hub.connectedAgents()).toEqual([]);

    const ackedOnB = nextEvent(b.hub, "command-acked");
    const command = await a.hub.sendCommand(agent.agentId, { type: "tunnel-open", streamId: 1 });
    expect(await ackedOnB).toEqual({ agentId: agent.agentId, commandId: command.commandId });
    expect(agent.commands().map((c) => c.commandId)).toEqual([command.commandId]);
    expect(agent.invalidFrames).toEqual([]);
  });

  it("closes the stale socket on replica A when the agent reconnects to replica B", async () => {
    const clock = new ManualClock();
    const a = await replica("replica-a", clock);
    const b = await replica("replica-b", clock);
    const onA = await TestAgent.connect({ url: a.url, auth: { joinToken: await joinToken(a.store) } });
    cleanup.push(async () => onA.terminate());
    const credential = onA.welcome?.credential ?? "";
    clock.advance(1_000);
    const onB = await TestAgent.connect({ url: b.url, auth: { credential } });
    cleanup.push(async () => onB.terminate());
    expect((await onA.closed).code).toBe(hubCloseCodes.replaced);
    expect(a.hub.connectedAgents()).toEqual([]);
    expect(b.hub.connectedAgents()).toEqual([onB.agentId]);

    // regression: a late notice about the older session on A closed the newer one on B
    await a.bus.publish({ kind: "session-opened", agentId: onB.agentId, replicaId: "replica-a", openedAt: clock.now() - 1_000 });
    // notices arrive in commit order: once this command reaches the agent, B has seen the late notice
    const command = await a.hub.sendCommand(onB.agentId, { type: "tunnel-open", streamId: 9 });
    await onB.waitFor((m) => "commandId" in m && m.commandId === command.commandId);
    expect(b.hub.connectedAgents()).toEqual([onB.agentId]);
  });

  it("closes an ended instance's agent session on the replica that holds it, when another replica ends it", async () => {
    const clock = new ManualClock();
    const a = await replica("replica-a", clock);
    const b = await replica("replica-b", clock);
    const agent = await TestAgent.connect({ url: b.url, auth: { joinToken: await joinToken(a.store) } });
    cleanup.push(async () => agent.terminate());
    await a.hub.disconnect([agent.agentId], "instance ended (down)");
    expect((await agent.closed).code).toBe(hubCloseCodes.unauthorized);
    expect(b.hub.connectedAgents()).toEqual([]);
  });

  it.runIf(dialect === "postgres")("asks for a resync once its listening connection is back, and hears notices after it", async () => {
    const bus = busOn(await replicaStore());
    const seen: BusEvent[] = [];
    await bus.subscribe((e) => seen.push(e));
    await killListeners(url);
    await expect.poll(() => seen, { timeout: 15_000 }).toContainEqual({ kind: "resync" });
    await bus.publish({ kind: "command", agentId: "agent-2", replicaId: "x" });
    await expect.poll(() => seen, { timeout: 5_000 }).toContainEqual({ kind: "command", agentId: "agent-2", replicaId: "x" });
  });

  it.runIf(dialect === "postgres")("delivers a command whose notice replica B missed once B's listening connection is back", async () => {
    const clock = new ManualClock();
    const a = await replica("replica-a", clock);
    const b = await replica("replica-b", clock);
    // commands go into the outbox with no notice sent, as if B was not listening when A sent them
    const enqueueSilently = async (agentId: string, streamId: number) =>
      (await a.store.commands.enqueue({ agentId, type: "tunnel-open", payload: { type: "tunnel-open", streamId }, idempotencyKey: uniqueName("silent") })).command;
    const registering = await TestAgent.connect({ url: b.url, auth: { joinToken: await joinToken(a.store) } });
    const credential = registering.welcome?.credential ?? "";
    await registering.close();
    // the session's opening delivery carries this one: once it arrives, that delivery read the outbox already
    const first = await enqueueSilently(registering.agentId, 1);
    const agent = await TestAgent.connect({ url: b.url, auth: { credential } });
    cleanup.push(async () => agent.terminate());
    await agent.waitFor((m) => "commandId" in m && m.commandId === first.id);

    const missed = await enqueueSilently(agent.agentId, 2);
    await killListeners(url);
    await agent.waitFor((m) => "commandId" in m && m.commandId === missed.id, 15_000);
  });
});
