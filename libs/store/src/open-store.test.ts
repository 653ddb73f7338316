import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ManualClock } from "@devenv/core/testing";
import { parseStoreUrl } from "./open-store.ts";
import { openStore } from "./open-store.ts";
import type { Store } from "./store.ts";
import { dialects, storeHarness, storeTestEpoch } from "./testing/store-harness.ts";

describe("parseStoreUrl", () => {
  it("maps sqlite urls and bare paths to SQLite, postgres urls to PostgreSQL", () => {
    expect(parseStoreUrl("sqlite:/var/lib/devenv/devenv.db")).toEqual({ dialect: "sqlite", path: "/var/lib/devenv/devenv.db" });
    expect(parseStoreUrl("sqlite:///var/lib/devenv/devenv.db")).toEqual({ dialect: "sqlite", path: "/var/lib/devenv/devenv.db" });
    expect(parseStoreUrl("sqlite:data/devenv.db")).toEqual({ dialect: "sqlite", path: resolve("data/devenv.db") });
    expect(parseStoreUrl("/tmp/x.db")).toEqual({ dialect: "sqlite", path: "/tmp/x.db" });
    expect(parseStoreUrl("sqlite::memory:")).toEqual({ dialect: "sqlite", path: ":memory:" });
    expect(parseStoreUrl("postgres://u:p@db:5432/devenv")).toEqual({ dialect: "postgres", url: "postgres://u:p@db:5432/devenv" });
    expect(parseStoreUrl("postgresql://db/devenv")).toEqual({ dialect: "postgres", url: "postgresql://db/devenv" });
  });

  it("refuses empty and unsupported urls with invalid-input, without echoing a password", () => {
    expect(() => parseStoreUrl("")).toThrow(expect.objectContaining({ code: "invalid-input" }));
    expect(() => parseStoreUrl("sqlite:")).toThrow(expect.objectContaining({ code: "invalid-input" }));
    expect(() => parseStoreUrl("mysql://root:hunter2@db/devenv")).toThrow(expect.objectContaining({ code: "invalid-input", message: expect.not.stringContaining("hunter2") }));
  });
});

describe("openStore failures", () => {
  it("reports an unreachable PostgreSQL as unavailable, not as a raw driver error", async () => {
    const port = await closedPort();
    const error = await openStore({ url: `postgres://postgres:secret@127.0.0.1:${port}/devenv` }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "StoreError", code: "unavailable" });
    expect(String((error as Error).message)).not.toContain("secret");
  });

  it("reports a SQLite path that cannot be a file as unavailable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devenv-store-bad-"));
    try {
      await expect(openStore({ url: dir })).rejects.toMatchObject({ code: "unavailable" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("creates the data dir of a SQLite file; calls after close fail as StoreError", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devenv-store-dir-"));
    try {
      const file = join(dir, "nested", "data", "devenv.db");
      const store = await openStore({ url: `sqlite:${file}` });
      expect(existsSync(file)).toBe(true);
      await store.close();
      await store.close();
      await expect(store.users.list()).rejects.toMatchObject({ name: "StoreError", code: "unavailable" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(dialects)("opening and reopening on %s", (dialect) => {
  const harness = storeHarness(dialect);
  afterAll(() => harness.cleanup());

  it("migrates once when several stores open a fresh database at the same time", async () => {
    const url = await harness.newUrl();
    if (dialect === "sqlite") {
      // separate processes: within one process stores share the file's connection
      const results = await Promise.all([1, 2, 3].map(() => openInChildProcess(url)));
      expect(results).toEqual(["0", "0", "0"]);
    }
    const stores = await Promise.all([1, 2, 3, 4].map(() => harness.open(url)));
    expect(await Promise.all(stores.map((s) => s.users.count()))).toEqual([0, 0, 0, 0]);
    await stores[0]!.users.create({ name: "visible-everywhere", role: "ops" });
    for (const store of stores) expect((await store.users.findByName("visible-everywhere"))?.role).toBe("ops");
  });

  it("loses nothing across a close and reopen", async () => {
    const clock = new ManualClock(storeTestEpoch);
    const url = await harness.newUrl();
    const before = await harness.open(url, clock);
    const written = await populate(before, clock);
    await before.close();

    const after = await harness.open(url, clock);
    expect(await readEverything(after, written)).toEqual(written.state);
    // what was in flight keeps its meaning: the token works, the join token is still single use,
    // the lease of the running job expires and the job is retried
    expect((await after.tokens.authenticate(written.tokenPlaintext))?.name).toBe("ada");
    expect((await after.agents.authenticate(written.agentCredential))?.id).toBe(written.agentId);
    await expect(after.joinTokens.consume(written.usedJoinToken)).rejects.toMatchObject({ code: "unauthorized" });
    expect((await after.joinTokens.consume(written.freshJoinToken)).instanceId).toBe(written.instanceId);
    clock.advance(60_000);
    const retried = await after.jobs.lease({ owner: "after-restart", kinds: ["shrink"], leaseMs: 1_000 });
    expect(retried).toMatchObject({ id: written.runningJobId, attempts: 2 });
    // sequences continue instead of restarting
    const { command } = await after.commands.enqueue({ agentId: written.agentId, type: "cancel", payload: {}, idempotencyKey: "after" });
    expect(command.seq).toBeGreaterThan(Math.max(...written.state.pending.map((c) => c.seq)));
  });
});

interface Written {
  tokenPlaintext: string;
  agentCredential: string;
  agentId: string;
  instanceId: string;
  usedJoinToken: string;
  freshJoinToken: string;
  runningJobId: string;
  state: Awaited<ReturnType<typeof readEverything>>;
}

async function populate(store: Store, clock: ManualClock): Promise<Written> {
  const ada = await store.users.create({ name: "ada", role: "admin", slackUserId: "U1" });
  const { plaintext: tokenPlaintext } = await store.tokens.create({ userId: ada.id, name: "laptop" });
  const snapshot = await store.snapshots.create({ id: "snap-1", location: "/d/snap-1", sourceDescription: "nightly", rulesDigest: "d1" });
  await store.snapshots.markReady(snapshot.id, { sizeBytes: 7_000_000_000, rows: 10, tablesCount: 2 });
  await store.snapshots.setPinned(snapshot.id, true);
  const instance = await store.instances.create({ ownerId: ada.id, kind: "personal", provisioner: "ec2", providerId: "i-1", ttlExpiresAt: "2026-05-02T00:00:00Z" });
  await store.instances.transition(instance.id, { to: "provisioning" });
  const used = await store.joinTokens.issue(instance.id);
  const fresh = await store.joinTokens.issue(instance.id);
  const { agent, credential } = await store.agents.registerWithJoinToken(used.plaintext, { identity: { instanceId: "i-1" }, version: "1.0.0" });
  await store.agents.recordHeartbeat(agent.id, { state: "idle", health: { disk: 0.5 } });
  const assignment = await store.assignments.create({ instanceId: instance.id, snapshotId: snapshot.id });
  await store.assignments.update(assignment.id, { state: "running", progress: { phase: "restore", rows: 5 } });
  await store.commands.enqueue({ agentId: agent.id, type: "assign", payload: { assignmentId: assignment.id }, idempotencyKey: assignment.id });
  const { command: acked } = await store.commands.enqueue({ agentId: agent.id, type: "noop", payload: {}, idempotencyKey: "n" });
  await store.commands.markAcked(acked.id, { ok: true });
  const parent = await store.jobs.enqueue({ kind: "shrink", payload: { keyspace: "shop" } });
  const running = await store.jobs.lease({ owner: "before-restart", kinds: ["shrink"], leaseMs: 30_000 });
  await store.jobs.enqueue({ kind: "shrink-task", payload: { range: 1 }, parentId: parent.id });
  await store.jobLogs.appendMany(parent.id, [{ level: "info", line: "started" }, { level: "warn", line: "slow" }]);
  await store.schedules.upsert({ name: "nightly", cron: "0 3 * * *", timezone: "UTC", kind: "refresh", payload: {}, nextRunAt: "2026-05-02T03:00:00Z" });
  await store.audit.record({ actor: ada.id, action: "snapshot.pin", subject: "snapshot:snap-1", detail: { pinned: true } });
  clock.advance(1_000);
  return {
    tokenPlaintext,
    agentCredential: credential,
    agentId: agent.id,
    instanceId: instance.id,
    usedJoinToken: used.plaintext,
    freshJoinToken: fresh.plaintext,
    runningJobId: running!.id,
    state: await readEverything(store, { agentId: agent.id, instanceId: instance.id, runningJobId: running!.id, userId: ada.id }),
  };
}

async function readEverything(store: Store, ids: { agentId: string; instanceId: string; runningJobId: string; userId?: string }) {
  const users = await store.users.list();
  const userId = ids.userId ?? users[0]!.id;
  return {
    users,
    tokens: await store.tokens.list(userId),
    snapshots: await store.snapshots.list(),
    instances: await store.instances.list(),
    agents: await store.agents.list({ includeRevoked: true }),
    joinTokens: await store.joinTokens.list(ids.instanceId),
    pending: await store.commands.pending(ids.agentId),
    assignments: await store.assignments.listForInstance(ids.instanceId),
    jobs: await store.jobs.list(),
    logs: await store.jobLogs.tail(ids.runningJobId),
    schedules: await store.schedules.list(),
    audit: await store.audit.list(),
  };
}

function openInChildProcess(url: string): Promise<string> {
  const script = `
    const { openStore } = await import(${JSON.stringify(new URL("./open-store.ts", import.meta.url).href)});
    const store = await openStore({ url: ${JSON.stringify(url)} });
    process.stdout.write(String(await store.users.count()));
    await store.close();
  `;
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, ["--conditions=devenv-source", "--input-type=module", "-e", script], (error, stdout, stderr) =>
      error ? reject(new Error(`child failed: ${stderr}`)) : resolvePromise(stdout),
    );
  });
}

function closedPort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolvePromise(address.port) : reject(new Error("no port"))));
    });
  });
}
