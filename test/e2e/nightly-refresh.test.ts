import type cassandra from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "@devenv/core/testing";
import { ForwardDaemon } from "@devenv/forward";
import { generateDataset } from "@devenv/fixtures";
import { connectCassandra } from "@devenv/snapshot";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { exampleShrink, jobResult, startTestControlPlane, stopTestControlPlane, tunnelUrl, until, type TestControlPlane } from "../harness/control-plane.ts";

// The nightly schedule fires by the control plane's clock (injected here): a new snapshot
// is made from production and rolled out to the developer's instance, whose database,
// seen through localhost, then has what production gained since.
const repo = resolve(import.meta.dirname, "../..");
const clock = new ManualClock("2026-11-24T20:00:00Z");

let dir: string;
let source: string;
let production: cassandra.Client;
let plane: TestControlPlane;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-nightly-"));
  production = await cassandraClient();
  source = uniqueName("nightly");
  await generateDataset(production, { keyspace: source, orgs: 4, leadsPerOrg: 6, days: 2, eventsPerDay: 3, asOf: "2026-11-24", seed: "nightly", concurrency: 32 });
  plane = await startTestControlPlane({
    dataDir: dir,
    port: 0,
    clock,
    agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
    schedulerIntervalMs: 300,
    env: { DEVENV_SHRINK_SECRET: "nightly-refresh-secret-0123456789ab" },
  });
}, 120_000);

afterAll(async () => {
  await stopTestControlPlane(plane);
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await rm(dir, { recursive: true, force: true });
}, 180_000);

const shrinkPayload = () => {
  const { contactPoint, localDataCenter } = services().cassandra;
  return exampleShrink(repo, contactPoint, localDataCenter, source);
};

describe("nightly refresh", () => {
  it("fires at 02:00 by the control plane's clock and brings production's new data to the developer's localhost", async () => {
    const { api, server, token } = plane;
    const { job } = await api.snapshots.create.mutate({ shrink: shrinkPayload() });
    const { snapshotId: first } = await jobResult<{ snapshotId: string }>(api, job.id);
    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId: first });
    await until("the instance", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "ready" ? true : undefined), 240_000);

    // production gains reference data after the first snapshot
    await production.execute(`INSERT INTO ${source}.countries (code, name) VALUES ('ZZ', 'Zedland')`);
    await api.schedules.set.mutate({ name: "nightly", cron: "0 2 * * *", timezone: "UTC", kind: "refresh", payload: { shrink: shrinkPayload(), concurrency: 2 } });
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await api.jobs.list.query({})).filter((j) => j.kind === "refresh")).toHaveLength(0); // not yet: it is 20:00

    clock.set("2026-11-25T02:00:30Z");
    const refresh = await until("the nightly refresh job", async () => (await api.jobs.list.query({})).find((j) => j.kind === "refresh"), 30_000);
    const result = await jobResult<{ snapshotId: string; instances: { instanceId: string; ok: boolean }[] }>(api, refresh.id);
    expect(result.snapshotId).not.toBe(first);
    expect(result.instances).toEqual([{ instanceId: instance.id, ok: true }]);
    expect((await api.instances.show.query({ id: instance.id })).instance.currentSnapshotId).toBe(result.snapshotId);

    const forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: tunnelUrl(server, "mine"), token } });
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
