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
import { createDatabase, dropDatabase } from "../harness/postgres.ts";

// The control plane on PostgreSQL, stopped while an instance is restoring and started
// again: the detached agent finishes, reconnects with its credential, reports, and the
// developer's database is served as if nothing happened.
const repo = resolve(import.meta.dirname, "../..");

let dir: string;
let databaseUrl: string;
let source: string;
let production: cassandra.Client;
let server: RunningDevenvServer | undefined;
let token: string;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const start = (port: number, out = new PassThrough()) =>
  startDevenvServer({
    dataDir: dir,
    port,
    databaseUrl,
    out,
    agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
    heartbeatIntervalMs: 1_000,
    maintenanceIntervalMs: 0,
    env: { DEVENV_SHRINK_SECRET: "restart-test-secret-0123456789abcd" },
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-restart-"));
  databaseUrl = await createDatabase(services().postgres.url, "restart");
  production = await cassandraClient();
  source = uniqueName("restart");
  await generateDataset(production, { keyspace: source, orgs: 6, leadsPerOrg: 30, days: 3, eventsPerDay: 20, asOf: "2026-11-24", seed: "restart", concurrency: 32 });
}, 120_000);

afterAll(async () => {
  if (server) {
    const api = createApiClient({ url: server.url, token });
    for (const instance of await api.instances.list.query({}).catch(() => [])) {
      if (instance.state !== "terminated") await api.instances.down.mutate({ id: instance.id }).catch(() => {});
    }
    await server.instances.settled();
    await server.close();
  }
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await dropDatabase(services().postgres.url, databaseUrl).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("a control-plane restart on PostgreSQL", () => {
  it("loses nothing across a restart taken as soon as an instance restores: the agent reconnects, reports, and the database is served", async () => {
    const out = new PassThrough();
    let printed = "";
    out.on("data", (chunk: Buffer) => (printed += chunk.toString()));
    server = await start(0, out);
    const port = Number(new URL(server.url).port);
    token = /Admin token \(shown once, keep it safe\): (\S+)/.exec(printed)![1]!;
    let api: ApiClient = createApiClient({ url: server.url, token });
    const { contactPoint, localDataCenter } = services().cassandra;
    const { job } = await api.snapshots.create.mutate({ shrink: { source: { contactPoints: [contactPoint], localDataCenter, keyspace: source }, rulesFile: join(repo, "examples/leads-rules.yaml") } });
    const snapshotId = await until("the snapshot", async () => {
      const { job: current } = await api.jobs.show.query({ id: job.id });
      return current.state === "succeeded" ? (current.result as { snapshotId: string }).snapshotId : undefined;
    }, 240_000);

    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId });
    await until("the restore to start", async () => (["restoring", "ready"].includes((await api.instances.show.query({ id: instance.id })).instance.state) ? true : undefined), 240_000);
    await server.close();
    server = undefined;

    // same port and catalogue; no new admin token
    const again = new PassThrough();
    let reprinted = "";
    again.on("data", (chunk: Buffer) => (reprinted += chunk.toString()));
    server = await start(port, again);
    expect(reprinted).toBe("");
    api = createApiClient({ url: server.url, token });
    const ready = await until("the instance to be ready after the restart", async () => {
      const shown = await api.instances.show.query({ id: instance.id });
      return shown.instance.state === "ready" && shown.instance.currentSnapshotId === snapshotId ? shown : undefined;
    }, 240_000);
    expect(ready.instance.id).toBe(instance.id);

    const forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: `${server.url.replace(/^http/, "ws")}/tunnel/mine`, token } });
    const local = await forward.listen();
    const dev = await connectCassandra({ contactPoints: [`127.0.0.1:${local.port}`], localDataCenter: "datacenter1" });
    try {
      const { snapshot } = await api.snapshots.show.query({ id: snapshotId });
      const leads = Number((await dev.execute("SELECT count(*) FROM devenv.leads")).first().get(0));
      expect(leads).toBeGreaterThan(0);
      expect(snapshot.status).toBe("ready");
    } finally {
      await dev.shutdown();
      await forward.close();
    }
  }, 600_000);
});
