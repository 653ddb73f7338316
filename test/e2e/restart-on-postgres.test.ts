import type cassandra from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForwardDaemon } from "@devenv/forward";
import { generateDataset } from "@devenv/fixtures";
import { connectCassandra } from "@devenv/snapshot";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { exampleShrink, jobResult, startTestControlPlane, stopTestControlPlane, tunnelUrl, until, type TestControlPlane } from "../harness/control-plane.ts";
import { createDatabase, dropDatabase } from "../harness/postgres.ts";

// The control plane on PostgreSQL, stopped while an instance is restoring and started
// again: the detached agent finishes, reconnects with its credential, reports, and the
// developer's database is served as if nothing happened.
const repo = resolve(import.meta.dirname, "../..");

let dir: string;
let databaseUrl: string;
let source: string;
let production: cassandra.Client;
let plane: TestControlPlane | undefined;

const start = (port: number, token?: string) =>
  startTestControlPlane(
    { dataDir: dir, port, databaseUrl, agentCommand: [join(repo, "apps/agent/bin/devenv-agent")], env: { DEVENV_SHRINK_SECRET: "restart-test-secret-0123456789abcd" } },
    token,
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-restart-"));
  databaseUrl = await createDatabase(services().postgres.url, "restart");
  production = await cassandraClient();
  source = uniqueName("restart");
  await generateDataset(production, { keyspace: source, orgs: 6, leadsPerOrg: 30, days: 3, eventsPerDay: 20, asOf: "2026-11-24", seed: "restart", concurrency: 32 });
}, 120_000);

afterAll(async () => {
  await stopTestControlPlane(plane);
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await dropDatabase(services().postgres.url, databaseUrl).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("a control-plane restart on PostgreSQL", () => {
  it("loses nothing across a restart taken as soon as an instance restores: the agent reconnects, reports, and the database is served", async () => {
    plane = await start(0);
    const { token } = plane;
    const port = Number(new URL(plane.server.url).port);
    let { api } = plane;
    const { contactPoint, localDataCenter } = services().cassandra;
    const { job } = await api.snapshots.create.mutate({ shrink: exampleShrink(repo, contactPoint, localDataCenter, source) });
    const { snapshotId } = await jobResult<{ snapshotId: string }>(api, job.id);

    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId });
    await until("the restore to start", async () => (["restoring", "ready"].includes((await api.instances.show.query({ id: instance.id })).instance.state) ? true : undefined), 240_000);
    await plane.server.close();
    plane = undefined;

    // same port and catalogue; no new admin token
    plane = await start(port, token);
    expect(plane.printed()).toBe("");
    expect(plane.server.firstRunAdminToken).toBeUndefined();
    api = plane.api;
    const ready = await until("the instance to be ready after the restart", async () => {
      const shown = await api.instances.show.query({ id: instance.id });
      return shown.instance.state === "ready" && shown.instance.currentSnapshotId === snapshotId ? shown : undefined;
    }, 240_000);
    expect(ready.instance.id).toBe(instance.id);

    const forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: tunnelUrl(plane.server, "mine"), token } });
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
