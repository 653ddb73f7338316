import { afterEach, describe, expect, it } from "vitest";
import { uniqueName } from "@devenv/testing";
import { createCast, readySnapshotIn, startTestServer, type Dialect, type ServerFixture } from "./testing/harness.ts";
import { outcomeOf } from "./testing/calls.ts";

async function poll<T>(read: () => Promise<T>, until: (value: T) => boolean, deadlineMs = 10_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (until(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("control-plane server", () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });

  it("/healthz, /readyz and /metrics answer; readyz says 503 once the store is gone", async () => {
    fixture = await startTestServer();
    const base = fixture.plane.url;
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
    expect(await (await fetch(`${base}/readyz`)).json()).toEqual({ ok: true, store: "sqlite" });

    const cast = await createCast(fixture);
    await fixture.client(cast.developer.token).instances.up.mutate({ kind: "personal" });
    await fixture.plane.instances.settled();
    const job = await fixture.store.jobs.enqueue({ kind: "shrink", payload: {} });
    await fixture.store.jobs.lease({ owner: "test", kinds: ["shrink"], leaseMs: 60_000 });
    fixture.clock.advance(42_000);
    await fixture.store.jobs.complete(job.id, "test");

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await metrics.text();
    // the cast's agent host (requested) and the instance just started (registering)
    expect(text).toMatch(/^devenv_instances\{state="registering"\} 1$/m);
    expect(text).toMatch(/^devenv_instances\{state="requested"\} 1$/m);
    expect(text).toMatch(/^devenv_agents\{state="\w+"\} 1$/m);
    expect(text).toMatch(/^devenv_job_duration_seconds_count\{kind="shrink",state="succeeded"\} 1$/m);
    expect(text).toMatch(/^devenv_job_duration_seconds_sum\{kind="shrink",state="succeeded"\} 42$/m);
    expect(text).toMatch(/^devenv_restore_throughput_bytes_per_second 0$/m);
    expect(text).toMatch(/^devenv_control_plane_process_resident_memory_bytes \d+/m);
    // a second scrape does not count the same job again
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^devenv_job_duration_seconds_count\{kind="shrink",state="succeeded"\} 1$/m);

    const notFound = await fetch(`${base}/nothing-here`);
    expect(notFound.status).toBe(404);

    await fixture.store.close();
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it.each<Dialect>(["sqlite", "postgres"])("a restart on the same data dir keeps everything and does not print the admin token again (%s)", async (dialect) => {
    fixture = await startTestServer({ dialect });
    const cast = await createCast(fixture);
    const developer = () => fixture!.client(cast.developer.token);
    const snapshot = await readySnapshotIn(fixture.store);
    const { instance } = await developer().instances.up.mutate({ kind: "personal", snapshotId: snapshot.id });
    await fixture.plane.instances.settled();
    await fixture.client(fixture.adminToken).snapshots.pin.mutate({ id: snapshot.id });
    await fixture.client(fixture.adminToken).schedules.set.mutate({ name: "nightly", cron: "0 2 * * *", timezone: "UTC", kind: "shrink", payload: { source: { contactPoints: ["10.0.0.1"], keyspace: "prod" }, rulesFile: "/r.yaml" } });

    await fixture.plane.close();
    const again = await fixture.restart();
    expect(again.text).toBe("");

    expect((await fixture.client(fixture.adminToken).auth.whoami.query()).user.role).toBe("admin");
    const shown = await developer().instances.show.query({ id: instance.id });
    expect(shown.instance).toMatchObject({ id: instance.id, state: "registering", snapshotId: snapshot.id });
    expect(shown.latestAssignment).toMatchObject({ snapshotId: snapshot.id, state: "pending" });
    expect((await developer().snapshots.show.query({ id: snapshot.id })).snapshot.pinned).toBe(true);
    expect((await fixture.client(cast.ops.token).schedules.list.query()).map((s) => s.name)).toEqual(["nightly"]);
  });

  it("instances go requested → provisioning → registering, and down → draining → terminated; a failed provision leaves the instance failed", async () => {
    fixture = await startTestServer();
    const cast = await createCast(fixture);
    const developer = fixture.client(cast.developer.token);
    const { instance } = await developer.instances.up.mutate({ kind: "personal", ttlHours: 2 });
    expect(instance.state).toBe("provisioning");
    expect(instance.ttlExpiresAt).toBe("2026-11-25T12:00:00.000Z");
    await fixture.plane.instances.settled();
    const registered = await developer.instances.show.query({ id: instance.id });
    expect(registered.instance).toMatchObject({ state: "registering", hostAddress: "127.0.0.1", hostPort: 9042 });
    // the provisioner got a join token that works once
    const handed = fixture.provisioner.provisioned.find((p) => p.instanceId === instance.id)!;
    expect((await fixture.store.joinTokens.consume(handed.joinToken)).instanceId).toBe(instance.id);

    const extended = await developer.instances.extendTtl.mutate({ id: instance.id, hours: 3 });
    expect(extended.ttlExpiresAt).toBe("2026-11-25T15:00:00.000Z");
    expect((await outcomeOf(developer.instances.extendTtl.mutate({ id: instance.id, hours: 24 * 14 }))).outcome).toBe("bad-request");

    expect((await developer.instances.down.mutate({ id: instance.id })).state).toBe("draining");
    await fixture.plane.instances.settled();
    expect((await developer.instances.show.query({ id: instance.id })).instance.state).toBe("terminated");
    expect(fixture.provisioner.terminated).toContain(instance.id);

    fixture.provisioner.failNext("no capacity in this zone");
    const { instance: doomed } = await developer.instances.up.mutate({ kind: "personal" });
    const failed = await poll(() => developer.instances.show.query({ id: doomed.id }), (s) => s.instance.state === "failed");
    expect(failed.instance).toMatchObject({ state: "failed", stateDetail: expect.stringMatching(/no capacity in this zone/) });
  });

  it("snapshots: create enqueues a shrink job, delete is refused while assigned or pinned", async () => {
    fixture = await startTestServer();
    const cast = await createCast(fixture);
    const admin = fixture.client(fixture.adminToken);
    const { job } = await admin.snapshots.create.mutate({ shrink: { source: { contactPoints: ["10.0.0.1:9042"], keyspace: "prod" }, rulesFile: "/etc/rules.yaml" } });
    expect(job).toMatchObject({ kind: "shrink", state: "queued" });
    const shown = await admin.jobs.show.query({ id: job.id });
    expect(shown.job.payload).toMatchObject({ source: { keyspace: "prod" } });

    const snapshot = await readySnapshotIn(fixture.store);
    await fixture.client(cast.developer.token).instances.up.mutate({ kind: "personal", snapshotId: snapshot.id });
    const refused = await outcomeOf(admin.snapshots.delete.mutate({ id: snapshot.id }));
    expect(refused.outcome).toBe("conflict");

    const pinned = await readySnapshotIn(fixture.store);
    await admin.snapshots.pin.mutate({ id: pinned.id });
    expect((await outcomeOf(admin.snapshots.delete.mutate({ id: pinned.id }))).outcome).toBe("conflict");
    await admin.snapshots.unpin.mutate({ id: pinned.id });
    expect((await admin.snapshots.delete.mutate({ id: pinned.id })).status).toBe("deleted");
    expect((await admin.snapshots.list.query()).map((s) => s.id)).not.toContain(pinned.id);

    expect((await outcomeOf(admin.snapshots.show.query({ id: uniqueName("missing") }))).outcome).toBe("not-found");
    const cancelled = await admin.jobs.cancel.mutate({ id: job.id });
    expect(cancelled.state).toBe("cancelled");
    expect((await outcomeOf(admin.jobs.cancel.mutate({ id: job.id }))).outcome).toBe("conflict");
  });

  it("fleet.overview shows agents, versions and restore progress", async () => {
    fixture = await startTestServer();
    const cast = await createCast(fixture);
    const snapshot = await readySnapshotIn(fixture.store);
    const { instance, assignment } = await fixture.client(cast.developer.token).instances.up.mutate({ kind: "personal", snapshotId: snapshot.id });
    await fixture.plane.instances.settled();
    const { agent } = await fixture.store.agents.register(instance.id, { identity: { hostname: "dev-host" }, version: "2.0.0", state: "downloading" });
    await fixture.store.assignments.update(assignment!.id, { state: "running", progress: { phase: "download", bytes: 50, totalBytes: 100, rows: 0, totalRows: 10, rate: 1000 } });
    const overview = await fixture.client(cast.ops.token).fleet.overview.query();
    expect(overview.agentVersions).toMatchObject({ "1.0.0": 1, "2.0.0": 1 });
    expect(overview.restoreBytesPerSecond).toBe(1000);
    const row = overview.instances.find((r) => r.instance.id === instance.id)!;
    expect(row.agent).toMatchObject({ id: agent.id, hostname: "dev-host", liveness: "unknown", state: "downloading" });
    expect(row.restore).toMatchObject({ state: "running", progress: { bytes: 50, totalBytes: 100 } });
  });

  it("fleet.cost gives instance-hours by owner over a period, and refuses a period that ends before it starts", async () => {
    fixture = await startTestServer();
    const cast = await createCast(fixture);
    const snapshot = await readySnapshotIn(fixture.store);
    const started = fixture.clock.date();
    const { instance } = await fixture.client(cast.developer.token).instances.up.mutate({ kind: "personal", snapshotId: snapshot.id });
    await fixture.plane.instances.settled();
    expect((await fixture.store.instances.get(instance.id)).providerId).not.toBeNull();
    fixture.clock.advance(2 * 3_600_000);
    const ops = fixture.client(cast.ops.token);
    const cost = await ops.fleet.cost.query({ from: new Date(started.getTime() - 3_600_000).toISOString() });
    const row = cost.rows.find((r) => r.ownerId === cast.developer.user.id);
    expect(row).toMatchObject({ instances: 1, hours: 2 });
    expect(cost.to).toBe(fixture.clock.date().toISOString());
    // the half of the period before the instance existed costs nothing
    const later = await ops.fleet.cost.query({ from: new Date(started.getTime() + 3_600_000).toISOString() });
    expect(later.rows.find((r) => r.ownerId === cast.developer.user.id)?.hours).toBe(1);
    const backwards = await outcomeOf(ops.fleet.cost.query({ from: fixture.clock.date().toISOString(), to: started.toISOString() }));
    expect(backwards).toMatchObject({ outcome: "bad-request", message: /must start before it ends/ });
  });
});

describe("errors the caller did not cause", () => {
  it("an output that fails its schema is internal (500) with a generic message, and is logged with its cause", async () => {
    const logged: unknown[] = [];
    const { pino } = await import("pino");
    const { Writable } = await import("node:stream");
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logged.push(JSON.parse(chunk.toString()));
        done();
      },
    });
    const fixture = await startTestServer({ runtime: { logger: pino({ level: "error" }, sink) } });
    try {
      // a snapshot id longer than SnapshotView allows stands for a record the API cannot describe
      await fixture.store.snapshots.create({ id: "c".repeat(250), location: "x", sourceDescription: "x", status: "ready" });
      const got = await outcomeOf(fixture.client(fixture.adminToken).snapshots.list.query());
      expect(got).toMatchObject({ outcome: "internal", httpStatus: 500, message: "internal error; the control plane's log has the details" });
      expect(logged).toContainEqual(expect.objectContaining({ msg: "internal error in an API call", path: "snapshots.list" }));
    } finally {
      await fixture.cleanup();
    }
  });
});

describe("sources named in the config", () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });

  it("a requested shrink without a source reads the first configured one; a named one by its name; none configured says how to add one", async () => {
    const production = { name: "production", contactPoints: ["10.0.1.5:9042"], keyspace: "leads", rules: "/etc/devenv/leads-rules.yaml", localDataCenter: "dc1" };
    const staging = { name: "staging", contactPoints: ["10.0.2.5:9042"], keyspace: "leads_staging", rules: "/etc/devenv/staging-rules.yaml", localDataCenter: "dc2" };
    fixture = await startTestServer({ settings: { sources: [production, staging] } });
    const admin = fixture.client(fixture.adminToken);

    const { job } = await admin.snapshots.create.mutate({ configured: { org: "org-000007" } });
    expect((await fixture.store.jobs.get(job.id)).payload).toEqual({ source: { contactPoints: ["10.0.1.5:9042"], localDataCenter: "dc1", keyspace: "leads" }, rulesFile: "/etc/devenv/leads-rules.yaml", org: "org-000007" });
    const { job: named } = await admin.snapshots.create.mutate({ configured: { source: "staging" } });
    expect((await fixture.store.jobs.get(named.id)).payload).toMatchObject({ source: { keyspace: "leads_staging" }, rulesFile: "/etc/devenv/staging-rules.yaml" });
    expect(await outcomeOf(admin.snapshots.create.mutate({ configured: { source: "elsewhere" } }))).toMatchObject({ outcome: "not-found", message: expect.stringMatching(/no source elsewhere.*production, staging/) });
    // the nightly refresh names the source; the schedule keeps what it resolved to
    const nightly = await admin.schedules.set.mutate({ name: "nightly", cron: "0 2 * * *", timezone: "UTC", kind: "refresh", payload: { shrink: { configured: {} }, concurrency: 2 } });
    expect(nightly.payload).toMatchObject({ shrink: { source: { keyspace: "leads" }, rulesFile: "/etc/devenv/leads-rules.yaml" }, concurrency: 2 });
    await fixture.cleanup();

    fixture = await startTestServer();
    expect(await outcomeOf(fixture.client(fixture.adminToken).snapshots.create.mutate({ configured: {} }))).toMatchObject({ outcome: "unavailable", message: expect.stringMatching(/add `sources:` to its config file/) });
  });
});
