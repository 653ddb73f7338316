import type cassandra from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, startDevenvServer, type ApiClient, type RunningDevenvServer } from "@devenv/api";
import { ForwardDaemon } from "@devenv/forward";
import { generateDataset } from "@devenv/shrink";
import { connectCassandra } from "@devenv/snapshot";
import { cassandraClient, services, uniqueName } from "@devenv/testing";

// The nightly schedule fires by the control plane's clock (injected here): a new snapshot
// is made from production and rolled out to the developer's instance, whose database,
// seen through localhost, then has what production gained since.
const repo = resolve(import.meta.dirname, "../..");
let now = new Date("2026-11-24T20:00:00Z");
const clock = { now: () => now };

let dir: string;
let source: string;
let production: cassandra.Client;
let server: RunningDevenvServer;
let api: ApiClient;
let token: string;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-nightly-"));
  production = await cassandraClient();
  source = uniqueName("nightly");
  await generateDataset(production, { keyspace: source, orgs: 4, leadsPerOrg: 6, days: 2, eventsPerDay: 3, asOf: "2026-11-24", seed: "nightly", concurrency: 32 });
  const out = new PassThrough();
  let printed = "";
  out.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  server = await startDevenvServer({
    dataDir: dir,
    port: 0,
    out,
    clock,
    agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
    heartbeatIntervalMs: 1_000,
    maintenanceIntervalMs: 0,
    schedulerIntervalMs: 300,
    env: { DEVENV_SHRINK_SECRET: "nightly-refresh-secret-0123456789ab" },
  });
  token = /Admin token \(shown once, keep it safe\): (\S+)/.exec(printed)![1]!;
  api = createApiClient({ url: server.url, token });
}, 120_000);

afterAll(async () => {
  for (const instance of await api.instances.list.query({}).catch(() => [])) {
    if (instance.state !== "terminated") await api.instances.down.mutate({ id: instance.id }).catch(() => {});
  }
  await server?.instances.settled();
  await server?.close();
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await rm(dir, { recursive: true, force: true });
}, 180_000);

const shrinkPayload = () => {
  const { contactPoint, localDataCenter } = services().cassandra;
  return { source: { contactPoints: [contactPoint], localDataCenter, keyspace: source }, rulesFile: join(repo, "examples/leads-rules.yaml") };
};

async function jobDone(id: string) {
  return until(`job ${id}`, async () => {
    const { job } = await api.jobs.show.query({ id });
    if (job.state === "failed") throw new Error(`job failed: ${job.error}`);
    return job.state === "succeeded" ? job : undefined;
  }, 240_000);
}

describe("nightly refresh", () => {
  it("fires at 02:00 by the control plane's clock and brings production's new data to the developer's localhost", async () => {
    const { job } = await api.snapshots.create.mutate({ shrink: shrinkPayload() });
    const first = ((await jobDone(job.id)).result as { snapshotId: string }).snapshotId;
    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId: first });
    await until("the instance", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "ready" ? true : undefined), 240_000);

    // production gains reference data after the first snapshot
    await production.execute(`INSERT INTO ${source}.countries (code, name) VALUES ('ZZ', 'Zedland')`);
    await api.schedules.set.mutate({ name: "nightly", cron: "0 2 * * *", timezone: "UTC", kind: "refresh", payload: { shrink: shrinkPayload(), concurrency: 2 } });
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await api.jobs.list.query({})).filter((j) => j.kind === "refresh")).toHaveLength(0); // not yet: it is 20:00

    now = new Date("2026-11-25T02:00:30Z");
    const refresh = await until("the nightly refresh job", async () => (await api.jobs.list.query({})).find((j) => j.kind === "refresh"), 30_000);
    const result = (await jobDone(refresh.id)).result as { snapshotId: string; instances: { instanceId: string; ok: boolean }[] };
    expect(result.snapshotId).not.toBe(first);
    expect(result.instances).toEqual([{ instanceId: instance.id, ok: true }]);
    expect((await api.instances.show.query({ id: instance.id })).instance.currentSnapshotId).toBe(result.snapshotId);

    const forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: `${server.url.replace(/^http/, "ws")}/tunnel/mine`, token } });
    const { port } = await forward.listen();
    const dev = await connectCassandra({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: "datacenter1" });
    try {
      const zz = await dev.execute("SELECT name FROM devenv.countries WHERE code = 'ZZ'");
      expect(zz.first()?.get("name")).toBe("Zedland");
    } finally {
      await dev.shutdown();
      await forward.close();
    }
  }, 600_000);
});
