import type cassandra from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "@devenv/core/testing";
import { freePort } from "@devenv/cassandra-node";
import { generateDataset } from "@devenv/fixtures";
import { LocalDirStore } from "@devenv/snapshot";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { exampleShrink, jobResult, startTestControlPlane, stopTestControlPlane, until, type TestControlPlane } from "../harness/control-plane.ts";
import { DeveloperView, servedOrgs, servedRowCounts, snapshotContents, snapshotOrgs } from "../harness/snapshot-contents.ts";

// The nightly refresh has made its snapshot and the developer's agent is loading it when
// the control plane (SQLite, embedded defaults) is stopped. The agent, detached, finishes
// and reports once the control plane is back on the same data dir and port; the refresh
// job, whose lease the stopped runner held, is taken again by the restarted server's
// runner once the lease runs out, and the developer's localhost ends on the snapshot the
// job reports. The control plane's clock is injected: it says when the nightly fires and
// when the lease has run out.
const repo = resolve(import.meta.dirname, "../..");
const clock = new ManualClock("2026-11-24T20:00:00Z");

let dir: string;
let source: string;
let production: cassandra.Client;
let plane: TestControlPlane | undefined;
let view: DeveloperView | undefined;

const start = (port: number, token?: string) =>
  startTestControlPlane(
    {
      dataDir: dir,
      port,
      clock,
      agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
      schedulerIntervalMs: 300,
      env: { DEVENV_SHRINK_SECRET: "rollout-restart-secret-0123456789ab" },
    },
    token,
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-rollout-restart-"));
  production = await cassandraClient();
  source = uniqueName("rollout");
  await generateDataset(production, { keyspace: source, orgs: 12, leadsPerOrg: 40, days: 3, eventsPerDay: 20, asOf: "2026-11-24", seed: "rollout", concurrency: 32 });
}, 120_000);

afterAll(async () => {
  await view?.close();
  await stopTestControlPlane(plane);
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("a control-plane restart during a rollout", () => {
  it("the refresh job is taken again by the restarted server and the developer's database ends on its snapshot", async () => {
    plane = await start(await freePort("127.0.0.1"));
    const { token } = plane;
    const port = Number(new URL(plane.server.url).port);
    let api = plane.api;
    const { contactPoint, localDataCenter } = services().cassandra;
    const shrink = exampleShrink(repo, contactPoint, localDataCenter, source);
    const { job } = await api.snapshots.create.mutate({ shrink });
    const { snapshotId: first } = await jobResult<{ snapshotId: string }>(api, job.id);
    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId: first });
    const show = () => api.instances.show.query({ id: instance.id });
    await until("the instance on the first snapshot", async () => ((await show()).instance.state === "ready" ? true : undefined), 240_000);

    // production gains a country; the nightly refresh fires at 02:00 by the control plane's clock
    await production.execute(`INSERT INTO ${source}.countries (code, name) VALUES ('ZZ', 'Zedland')`);
    await api.schedules.set.mutate({ name: "nightly", cron: "0 2 * * *", timezone: "UTC", kind: "refresh", payload: { shrink, concurrency: 1 } });
    clock.set("2026-11-25T02:00:30Z");
    const refresh = await until("the nightly refresh job", async () => (await api.jobs.list.query({ kinds: ["refresh"] }))[0], 30_000);

    // stop the control plane once the refresh's snapshot is made and the agent is loading it
    const rolling = await until("the agent to load the refresh's snapshot", async () => {
      const shown = await show();
      const assignment = shown.latestAssignment;
      if (assignment?.state === "succeeded" && assignment.snapshotId !== first) throw new Error("the restore finished before the control plane could be stopped during it");
      const loading = assignment && assignment.snapshotId !== first && (assignment.progress?.phase === "schema" || assignment.progress?.phase === "load");
      return loading ? assignment : undefined;
    }, 240_000, 100);
    await plane.server.close();
    plane = undefined;
    const refreshed = rolling.snapshotId;

    // the same data dir, port and admin token
    plane = await start(port, token);
    api = plane.api;
    // the agent finished while nobody listened, and says so once it is back
    await until("the agent to report the restore it finished", async () => {
      const { instance: shown } = await show();
      return shown.state === "ready" && shown.currentSnapshotId === refreshed ? true : undefined;
    }, 120_000);
    expect((await api.jobs.show.query({ id: refresh.id })).job).toMatchObject({ state: "running", attempts: 1 });

    // the stopped runner's lease runs out: the restarted server's runner takes the job again
    clock.advance(60_000);
    const result = await jobResult<{ snapshotId: string; instances: { instanceId: string; ok: boolean }[] }>(api, refresh.id);
    const { job: retried, log } = await api.jobs.show.query({ id: refresh.id, logLines: 500 });
    expect(retried.attempts).toBe(2);
    expect(log.map((l) => l.line)).toContain(`attempt 2 of ${retried.maxAttempts} on ${plane.server.jobs.owner}`);
    expect(result.instances).toEqual([{ instanceId: instance.id, ok: true }]);
    // the retry neither shrinks again nor restores again: the first attempt's snapshot and restore stand
    expect(result.snapshotId).toBe(refreshed);
    expect(log.map((l) => l.line)).toContain(`snapshot ${refreshed} was made by an earlier attempt of this job; using it`);
    const done = await show();
    expect(done.instance).toMatchObject({ state: "ready", currentSnapshotId: result.snapshotId });
    expect(done.latestAssignment).toMatchObject({ snapshotId: result.snapshotId, state: "succeeded" });

    // through localhost: exactly the snapshot the job reports, with what production gained
    const snapshot = await snapshotContents(new LocalDirStore(join(dir, "blobs")), result.snapshotId);
    view = new DeveloperView(plane.server, token);
    await view.listen();
    await view.query(async (client) => {
      expect(await servedRowCounts(client, "devenv", snapshot)).toEqual(snapshot.rowCounts);
      expect(await servedOrgs(client, "devenv")).toEqual(await snapshotOrgs(snapshot));
      expect((await client.execute("SELECT name FROM devenv.countries WHERE code = 'ZZ'")).first()?.get("name")).toBe("Zedland");
    });
  }, 600_000);
});
