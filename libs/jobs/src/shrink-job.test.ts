import type cassandra from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDataset } from "@devenv/fixtures";
import { LocalDirStore, readManifest } from "@devenv/snapshot";
import { openStore, type Store } from "@devenv/store";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { JobRunner } from "./job-runner.ts";
import { runUntilFinished } from "./testing/run-until-finished.ts";
import { shrinkJobHandlers, type ShrinkJobResult } from "./shrink-job.ts";

// A shrink job split into token-range tasks that several runners lease, as
// runners on several hosts do against one store.
const rulesFile = resolve(import.meta.dirname, "../../../examples/leads-rules.yaml");
const env = { DEVENV_SHRINK_SECRET: "shrink-job-test-secret-0123456789" };

let dir: string;
let store: Store;
let blobs: LocalDirStore;
let client: cassandra.Client;
let source: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-shrink-job-"));
  store = await openStore({ url: `sqlite:${join(dir, "devenv.db")}` });
  blobs = new LocalDirStore(join(dir, "blobs"));
  client = await cassandraClient();
  source = uniqueName("shrink_job_src");
  await generateDataset(client, { keyspace: source, orgs: 6, leadsPerOrg: 10, days: 4, eventsPerDay: 6, asOf: "2026-11-20", seed: "shrink-job", concurrency: 32 });
});

afterAll(async () => {
  await client?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await client?.shutdown();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const payload = (tasks: number) => ({
  source: { contactPoints: [services().cassandra.contactPoint], localDataCenter: services().cassandra.localDataCenter, keyspace: source },
  rulesFile,
  asOf: "2026-11-21T00:00:00Z",
  tasks,
});

async function workKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of blobs.list("work/")) keys.push(key);
  return keys;
}

describe("a shrink job split into tasks", () => {
  it("spreads its tasks over several runners and publishes one audited snapshot", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: payload(4) });
    const helpers = [0, 1].map((i) => new JobRunner({ store, owner: `helper-${i}`, pollMs: 50, taskConcurrency: 1, handlers: shrinkJobHandlers({ store, blobs, env }) }));
    for (const helper of helpers) helper.start();
    const done = await runUntilFinished(store, new JobRunner({ store, owner: "main", pollMs: 50, taskConcurrency: 1, handlers: shrinkJobHandlers({ store, blobs, env }) }), job.id);
    await Promise.all(helpers.map((h) => h.stop()));
    expect(done.state, done.error ?? "").toBe("succeeded");
    const result = done.result as ShrinkJobResult;
    expect(result.tasks).toBe(4);

    const tasks = await store.jobs.list({ parentId: job.id });
    expect(tasks.map((t) => t.state)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    // one task slot per runner: four tasks cannot all have run on one
    expect(new Set(tasks.map((t) => t.result && (t.result as { part: number }).part))).toEqual(new Set([0, 1, 2, 3]));
    const owners = await Promise.all(tasks.map(async (t) => (await store.jobLogs.tail(t.id, 50)).map((l) => l.line).join("\n").match(/ on (\S+)/)?.[1]));
    expect(new Set(owners).size, owners.join(", ")).toBeGreaterThan(1);

    const manifest = await readManifest(blobs, result.snapshotId);
    expect(manifest.totals.rows).toBe(result.rows);
    expect((await store.snapshots.get(result.snapshotId)).status).toBe("ready");
    expect(await workKeys()).toEqual([]);
  });

  it("resumes the same snapshot when its runner stops while the tasks run", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: payload(3) });
    const first = new JobRunner({ store, owner: "first", pollMs: 50, leaseMs: 600, handlers: { shrink: shrinkJobHandlers({ store, blobs, env }).shrink } });
    first.start();
    while ((await store.jobs.list({ parentId: job.id })).length === 0) await sleep(50);
    await first.stop();
    const planned = await store.jobs.list({ parentId: job.id });
    const snapshotId = (planned[0]!.payload as { snapshotId: string }).snapshotId;
    expect((await store.snapshots.get(snapshotId)).status).toBe("building");

    const done = await runUntilFinished(store, new JobRunner({ store, owner: "second", pollMs: 50, leaseMs: 600, handlers: shrinkJobHandlers({ store, blobs, env }) }), job.id);
    expect(done.state, done.error ?? "").toBe("succeeded");
    expect(done.attempts).toBe(2);
    expect((done.result as ShrinkJobResult).snapshotId).toBe(snapshotId);
    expect(await store.jobs.list({ parentId: job.id })).toHaveLength(3);
    expect((await store.jobLogs.tail(job.id, 200)).map((l) => l.line).join("\n")).toMatch(/resuming .*: its tasks carry on/);
  });

  it("fails the shrink when a task fails for good: snapshot failed, the other tasks stopped, the work area removed", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: payload(2), maxAttempts: 1 });
    // the coordinator has the secret; the only task runner does not
    const coordinator = new JobRunner({ store, owner: "coordinator", pollMs: 50, handlers: { shrink: shrinkJobHandlers({ store, blobs, env }).shrink } });
    const tasks = new JobRunner({ store, owner: "no-secret", pollMs: 50, retryAfterMs: 10, handlers: { "shrink-task": shrinkJobHandlers({ store, blobs, env: {} })["shrink-task"] } });
    tasks.start();
    const done = await runUntilFinished(store, coordinator, job.id);
    await tasks.stop();
    expect(done.state).toBe("failed");
    expect(done.error).toMatch(/task \d failed: .*DEVENV_SHRINK_SECRET/);
    const snapshotId = ((await store.jobs.list({ parentId: job.id }))[0]!.payload as { snapshotId: string }).snapshotId;
    expect((await store.snapshots.get(snapshotId)).status).toBe("failed");
    expect((await store.jobs.list({ parentId: job.id })).every((t) => t.state === "failed" || t.state === "cancelled")).toBe(true);
    expect(await workKeys()).toEqual([]);
  });
});
