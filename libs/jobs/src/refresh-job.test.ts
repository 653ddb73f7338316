import type cassandra from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RefreshJobResult } from "@devenv/protocol";
import { generateDataset } from "@devenv/fixtures";
import { LocalDirStore, readManifest, restoreSnapshot } from "@devenv/snapshot";
import { openStore, type Job, type Store } from "@devenv/store";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { JobRunner } from "./job-runner.ts";
import { refreshJobHandler } from "./refresh-job.ts";
import { shrinkJobHandlers } from "./shrink-job.ts";
import { runUntilFinished } from "./testing/run-until-finished.ts";

const rulesFile = resolve(import.meta.dirname, "../../../examples/leads-rules.yaml");
const env = { DEVENV_SHRINK_SECRET: "refresh-job-test-secret-0123456789" };

let dir: string;
let store: Store;
let blobs: LocalDirStore;
let client: cassandra.Client;
let source: string;
const keyspaces: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-refresh-"));
  store = await openStore({ url: `sqlite:${join(dir, "devenv.db")}` });
  blobs = new LocalDirStore(join(dir, "blobs"));
  client = await cassandraClient();
  source = uniqueName("refresh_src");
  keyspaces.push(source);
  await generateDataset(client, { keyspace: source, orgs: 6, leadsPerOrg: 8, days: 3, eventsPerDay: 4, asOf: "2026-11-20", seed: "refresh", concurrency: 32 });
});

afterAll(async () => {
  for (const keyspace of keyspaces) await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client?.shutdown();
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

const shrinkPayload = () => ({
  source: { contactPoints: [services().cassandra.contactPoint], localDataCenter: services().cassandra.localDataCenter, keyspace: source },
  rulesFile,
  asOf: "2026-11-21T00:00:00Z",
});

const runToEnd = (runner: JobRunner, jobId: string): Promise<Job> => runUntilFinished(store, runner, jobId);

describe("shrink and refresh jobs", () => {
  it("catalogues a shrink job's snapshot as ready, with its figures, published in the blob store", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: shrinkPayload() });
    const done = await runToEnd(new JobRunner({ store, handlers: shrinkJobHandlers({ store, blobs, env }) }), job.id);
    expect(done.state, done.error ?? "").toBe("succeeded");
    const { snapshotId, rows } = done.result as { snapshotId: string; rows: number };
    const snapshot = await store.snapshots.get(snapshotId);
    expect(snapshot.status).toBe("ready");
    expect(snapshot.rows).toBe(rows);
    expect(snapshot.location).toBe(blobs.location);
    expect((await readManifest(blobs, snapshotId)).totals.rows).toBe(rows);
    expect((await store.jobLogs.tail(job.id, 200)).map((l) => l.line).join("\n")).toMatch(/snapshot .* ready: \d+ rows/);
  });

  it("fails a job with a bad payload or a missing secret, naming what is wrong", async () => {
    const bad = await store.jobs.enqueue({ kind: "shrink", payload: { ...shrinkPayload(), rulesFile: 42 }, maxAttempts: 1 });
    const noSecret = await store.jobs.enqueue({ kind: "shrink", payload: shrinkPayload(), maxAttempts: 1 });
    const runner = () => new JobRunner({ store, handlers: shrinkJobHandlers({ store, blobs, env: {} }) });
    expect((await runToEnd(runner(), bad.id)).error).toMatch(/bad shrink payload at rulesFile/);
    expect((await runToEnd(runner(), noSecret.id)).error).toMatch(/DEVENV_SHRINK_SECRET/);
  });

  it("refreshes every ready personal instance from a new snapshot; one that fails keeps its data and is reported", async () => {
    const owner = await store.users.create({ name: uniqueName("dev"), role: "developer" });
    const instances = [];
    for (let i = 0; i < 3; i++) {
      const instance = await store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "local" });
      for (const to of ["provisioning", "registering", "ready"] as const) await store.instances.transition(instance.id, { to });
      instances.push(instance);
    }
    const broken = instances[1]!.id;
    const restored = new Map<string, string>();
    // restores for real into a keyspace per instance; the broken one's host is down
    const rollOut = async (instanceId: string, snapshotId: string) => {
      if (instanceId === broken) throw new Error("agent lost");
      const keyspace = uniqueName("refresh_dev");
      keyspaces.push(keyspace);
      // each host has its own chunk cache
      await restoreSnapshot({ store: blobs, snapshotId, client, keyspace, workDir: join(dir, `restore-${instanceId}`) });
      restored.set(instanceId, keyspace);
    };
    const job = await store.jobs.enqueue({ kind: "refresh", payload: { shrink: shrinkPayload(), concurrency: 2, instanceIds: instances.map((i) => i.id) } });
    const done = await runToEnd(new JobRunner({ store, handlers: { ...shrinkJobHandlers({ store, blobs, env }), refresh: refreshJobHandler({ store, blobs, env, rollOut }) } }), job.id);
    expect(done.state, done.error ?? "").toBe("succeeded");
    const result = done.result as RefreshJobResult;
    expect(result.instances.filter((i) => i.ok).length, JSON.stringify(result.instances)).toBe(2);
    expect(result.instances.filter((i) => i.ok).map((i) => i.instanceId).sort()).toEqual(instances.map((i) => i.id).filter((id) => id !== broken).sort());
    expect(result.instances.find((i) => i.instanceId === broken)).toEqual({ instanceId: broken, ok: false, error: "agent lost" });
    for (const keyspace of restored.values()) {
      const count = await client.execute(`SELECT count(*) FROM ${keyspace}.orgs`);
      expect(Number(count.first().get(0))).toBeGreaterThan(0);
    }
  });

  it("a refresh retried during its roll-out reuses the snapshot its first attempt made", async () => {
    const owner = await store.users.create({ name: uniqueName("dev"), role: "developer" });
    const instance = await store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "local" });
    for (const to of ["provisioning", "registering", "ready"] as const) await store.instances.transition(instance.id, { to });
    const rolledOut: string[] = [];
    let firstRollOutStarted: () => void = () => {};
    const started = new Promise<void>((resolve) => (firstRollOutStarted = resolve));
    // the first attempt's roll-out hangs until its runner stops; the second one's succeeds
    const hanging = async (_id: string, snapshotId: string, signal: AbortSignal) => {
      rolledOut.push(snapshotId);
      firstRollOutStarted();
      await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("stopped")), { once: true }));
    };
    const job = await store.jobs.enqueue({ kind: "refresh", payload: { shrink: shrinkPayload(), instanceIds: [instance.id] } });
    const first = new JobRunner({ store, owner: "first", pollMs: 50, leaseMs: 600, handlers: { ...shrinkJobHandlers({ store, blobs, env }), refresh: refreshJobHandler({ store, blobs, env, rollOut: hanging }) } });
    first.start();
    await started;
    await first.stop();
    const succeeding = async (_id: string, snapshotId: string) => {
      rolledOut.push(snapshotId);
    };
    const done = await runToEnd(new JobRunner({ store, owner: "second", pollMs: 50, leaseMs: 600, handlers: { ...shrinkJobHandlers({ store, blobs, env }), refresh: refreshJobHandler({ store, blobs, env, rollOut: succeeding }) } }), job.id);
    expect(done.state, done.error ?? "").toBe("succeeded");
    expect(done.attempts).toBe(2);
    expect(rolledOut).toHaveLength(2);
    expect(rolledOut[1]).toBe(rolledOut[0]);
    expect((done.result as RefreshJobResult).snapshotId).toBe(rolledOut[0]);
    expect((await store.jobLogs.tail(job.id, 200)).map((l) => l.line).join("\n")).toMatch(/made by an earlier attempt of this job; using it/);
  });
});
