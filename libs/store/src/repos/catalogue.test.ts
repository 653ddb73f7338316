import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "@devenv/testing";
import { ManualClock } from "@devenv/core/testing";
import type { Store } from "../store.ts";
import { dialects, storeHarness, storeTestEpoch } from "../testing/store-harness.ts";

describe.each(dialects)("snapshots, assignments, schedules and audit on %s", (dialect) => {
  const harness = storeHarness(dialect);
  const clock = new ManualClock(storeTestEpoch);
  let store: Store;
  let ownerId: string;

  beforeAll(async () => {
    store = await harness.fresh(clock);
    ownerId = (await store.users.create({ name: "owner", role: "developer" })).id;
  });
  afterAll(() => harness.cleanup());

  async function readySnapshot(sizeBytes = 5_000_000_000) {
    const snapshot = await store.snapshots.create({ location: `/data/snapshots/${uniqueName("s")}`, sourceDescription: "keyspace shop", rulesDigest: "ab12" });
    return store.snapshots.markReady(snapshot.id, { sizeBytes, rows: 123_456, tablesCount: 7 });
  }
  async function liveInstance() {
    const instance = await store.instances.create({ ownerId, kind: "personal", provisioner: "local" });
    await store.instances.transition(instance.id, { to: "provisioning" });
    await store.instances.transition(instance.id, { to: "registering" });
    return store.instances.get(instance.id);
  }

  describe("snapshots", () => {
    it("goes building -> ready with its figures (sizes above 2^32 intact)", async () => {
      const building = await store.snapshots.create({ id: "snap-2026-05-01", location: "/d/snap-2026-05-01", sourceDescription: "nightly" });
      expect(building).toMatchObject({ id: "snap-2026-05-01", status: "building", pinned: false, sizeBytes: 0, rulesDigest: null });
      const ready = await store.snapshots.markReady(building.id, { sizeBytes: 12_345_678_901, rows: 9_876_543_210, tablesCount: 12 });
      expect(ready).toMatchObject({ status: "ready", sizeBytes: 12_345_678_901, rows: 9_876_543_210, tablesCount: 12 });
      expect(await store.snapshots.get(building.id)).toEqual(ready);
      await expect(store.snapshots.markReady(building.id, { sizeBytes: 1, rows: 1, tablesCount: 1 })).rejects.toMatchObject({ code: "invalid-transition" });
      await expect(store.snapshots.markFailed(building.id)).rejects.toMatchObject({ code: "invalid-transition" });
      await expect(store.snapshots.create({ id: "snap-2026-05-01", location: "/x", sourceDescription: "dup" })).rejects.toMatchObject({ code: "conflict" });
    });

    it("records a failed build", async () => {
      const building = await store.snapshots.create({ location: "/d/broken", sourceDescription: "nightly" });
      expect((await store.snapshots.markFailed(building.id)).status).toBe("failed");
    });

    it("refuses to delete a snapshot while an instance is assigned to it or holds it", async () => {
      const snapshot = await readySnapshot();
      const instance = await liveInstance();
      const assignment = await store.assignments.create({ instanceId: instance.id, snapshotId: snapshot.id });
      await expect(store.snapshots.delete(snapshot.id)).rejects.toMatchObject({ code: "conflict", message: new RegExp(instance.id) });
      await store.assignments.succeed(assignment.id);
      // now held (currentSnapshotId) by the instance; another assignment moves the target elsewhere
      const next = await readySnapshot();
      await store.assignments.create({ instanceId: instance.id, snapshotId: next.id });
      expect((await store.snapshots.instancesUsing(snapshot.id)).map((i) => i.id)).toEqual([instance.id]);
      await expect(store.snapshots.delete(snapshot.id)).rejects.toMatchObject({ code: "conflict" });
      await store.instances.transition(instance.id, { to: "terminated" });
      expect((await store.snapshots.delete(snapshot.id)).status).toBe("deleted");
      expect((await store.snapshots.list()).map((s) => s.id)).not.toContain(snapshot.id);
      expect((await store.snapshots.list({ status: ["deleted"] })).map((s) => s.id)).toContain(snapshot.id);
      await expect(store.assignments.create({ instanceId: (await liveInstance()).id, snapshotId: snapshot.id })).rejects.toMatchObject({ code: "conflict" });
    });

    it("refuses to delete a pinned snapshot until it is unpinned", async () => {
      const snapshot = await readySnapshot();
      await store.snapshots.setPinned(snapshot.id, true);
      expect((await store.snapshots.list({ pinned: true })).map((s) => s.id)).toContain(snapshot.id);
      await expect(store.snapshots.delete(snapshot.id)).rejects.toMatchObject({ code: "conflict", message: /pinned/ });
      await store.snapshots.setPinned(snapshot.id, false);
      expect((await store.snapshots.delete(snapshot.id)).status).toBe("deleted");
      await expect(store.snapshots.delete("missing")).rejects.toMatchObject({ code: "not-found" });
    });

    it("lists newest first", async () => {
      const a = await readySnapshot();
      clock.advance(1_000);
      const b = await readySnapshot();
      const listed = (await store.snapshots.list({ status: ["ready"] })).map((s) => s.id);
      expect(listed.indexOf(b.id)).toBeLessThan(listed.indexOf(a.id));
      expect(await store.snapshots.list({ status: [] })).toEqual([]);
      await expect(store.snapshots.create({ location: "/x", sourceDescription: "bad", sizeBytes: -1 })).rejects.toMatchObject({ code: "invalid-input" });
    });
  });

  describe("assignments", () => {
    it("tracks an assignment to success: the instance then holds the snapshot", async () => {
      const snapshot = await readySnapshot();
      const instance = await liveInstance();
      const assignment = await store.assignments.create({ instanceId: instance.id, snapshotId: snapshot.id });
      expect(assignment).toMatchObject({ state: "pending", progress: null, error: null });
      expect((await store.instances.get(instance.id)).snapshotId).toBe(snapshot.id);
      await store.assignments.update(assignment.id, { state: "sent" });
      const progressing = await store.assignments.update(assignment.id, { state: "running", progress: { phase: "download", bytes: 10, totalBytes: 100 } });
      expect(progressing.progress).toEqual({ phase: "download", bytes: 10, totalBytes: 100 });
      expect((await store.assignments.succeed(assignment.id)).state).toBe("succeeded");
      expect(await store.instances.get(instance.id)).toMatchObject({ snapshotId: snapshot.id, currentSnapshotId: snapshot.id });
      await expect(store.assignments.update(assignment.id, { progress: {} })).rejects.toMatchObject({ code: "invalid-transition" });
      await expect(store.assignments.fail(assignment.id, "late")).rejects.toMatchObject({ code: "invalid-transition" });
    });

    it("a failed assignment leaves the instance on its previous snapshot", async () => {
      const first = await readySnapshot();
      const second = await readySnapshot();
      const instance = await liveInstance();
      await store.assignments.succeed((await store.assignments.create({ instanceId: instance.id, snapshotId: first.id })).id);
      const refresh = await store.assignments.create({ instanceId: instance.id, snapshotId: second.id });
      const failed = await store.assignments.fail(refresh.id, "chunk sha256 mismatch");
      expect(failed).toMatchObject({ state: "failed", error: "chunk sha256 mismatch" });
      expect(await store.instances.get(instance.id)).toMatchObject({ snapshotId: first.id, currentSnapshotId: first.id });
      expect((await store.assignments.latestForInstance(instance.id))?.id).toBe(refresh.id);
    });

    it("a newer assignment supersedes an unfinished one", async () => {
      const instance = await liveInstance();
      const older = await store.assignments.create({ instanceId: instance.id, snapshotId: (await readySnapshot()).id });
      clock.advance(1);
      const newer = await store.assignments.create({ instanceId: instance.id, snapshotId: (await readySnapshot()).id });
      expect(await store.assignments.get(older.id)).toMatchObject({ state: "cancelled", error: /superseded/ });
      expect((await store.assignments.listForInstance(instance.id)).map((a) => a.id)).toEqual([newer.id, older.id]);
    });

    it("refuses a snapshot that is not ready, a terminated instance, unknown ids", async () => {
      const building = await store.snapshots.create({ location: "/d/b", sourceDescription: "x" });
      const instance = await liveInstance();
      await expect(store.assignments.create({ instanceId: instance.id, snapshotId: building.id })).rejects.toMatchObject({ code: "conflict", message: /building/ });
      await store.instances.transition(instance.id, { to: "terminated" });
      await expect(store.assignments.create({ instanceId: instance.id, snapshotId: (await readySnapshot()).id })).rejects.toMatchObject({ code: "invalid-transition" });
      await expect(store.assignments.create({ instanceId: "nope", snapshotId: (await readySnapshot()).id })).rejects.toMatchObject({ code: "not-found" });
      await expect(store.assignments.get("nope")).rejects.toMatchObject({ code: "not-found" });
    });
  });

  describe("instances", () => {
    it("creates, patches, touches and lists instances; finds expired personal ones", async () => {
      const other = await store.users.create({ name: uniqueName("u"), role: "developer" });
      const mine = await store.instances.create({ ownerId: other.id, kind: "personal", provisioner: "ec2", ttlExpiresAt: new Date(clock.now() + 3_600_000) });
      clock.advance(1);
      const shared = await store.instances.create({ ownerId: other.id, kind: "shared", provisioner: "static", hostAddress: "db.internal", hostPort: 9042, ttlExpiresAt: clock.date() });
      expect(mine).toMatchObject({ state: "requested", kind: "personal", provisioner: "ec2", snapshotId: null, lastActivityAt: mine.createdAt });
      expect((await store.instances.list({ ownerId: other.id })).map((i) => i.id)).toEqual([mine.id, shared.id]);
      expect((await store.instances.list({ ownerId: other.id, kind: "shared" })).map((i) => i.id)).toEqual([shared.id]);
      clock.advance(60_000);
      await store.instances.touch(mine.id);
      expect((await store.instances.get(mine.id)).lastActivityAt).toBe(clock.date().toISOString());
      const extended = await store.instances.update(mine.id, { ttlExpiresAt: "2026-05-01T13:00:00+02:00" });
      expect(extended.ttlExpiresAt).toBe("2026-05-01T11:00:00.000Z");
      expect((await store.instances.listExpired(new Date("2026-05-01T11:00:00Z"))).map((i) => i.id)).toContain(mine.id);
      expect((await store.instances.listExpired(new Date("2026-05-01T10:59:59Z"))).map((i) => i.id)).not.toContain(mine.id);
      // shared instances are never reaped by TTL
      expect((await store.instances.listExpired(new Date("2030-01-01T00:00:00Z"))).map((i) => i.id)).not.toContain(shared.id);
      await expect(store.instances.update(mine.id, { hostPort: 70_000 })).rejects.toMatchObject({ code: "invalid-input" });
      await expect(store.instances.create({ ownerId: "nobody", kind: "personal", provisioner: "local" })).rejects.toMatchObject({ code: "not-found" });
      await expect(store.instances.touch("nope")).rejects.toMatchObject({ code: "not-found" });
      await store.instances.transition(mine.id, { to: "terminated" });
      expect((await store.instances.list({ ownerId: other.id })).map((i) => i.id)).toEqual([shared.id]);
      expect((await store.instances.list({ ownerId: other.id, states: ["terminated"] })).map((i) => i.id)).toEqual([mine.id]);
    });
  });

  describe("job logs", () => {
    it("keeps lines in order per job; tail returns the last n, after follows", async () => {
      const job = await store.jobs.enqueue({ kind: "shrink", payload: {} });
      const other = await store.jobs.enqueue({ kind: "refresh", payload: {} });
      for (let i = 0; i < 10; i++) {
        await store.jobLogs.append(job.id, "info", `line ${i}`);
        await store.jobLogs.append(other.id, "warn", `other ${i}`);
      }
      await store.jobLogs.appendMany(job.id, [{ level: "error", line: "line 10" }, { level: "debug", line: "line 11" }]);
      const tail = await store.jobLogs.tail(job.id, 3);
      expect(tail.map((l) => l.line)).toEqual(["line 9", "line 10", "line 11"]);
      expect(tail.map((l) => l.level)).toEqual(["info", "error", "debug"]);
      const followed = await store.jobLogs.after(job.id, tail[0]!.seq);
      expect(followed.map((l) => l.line)).toEqual(["line 10", "line 11"]);
      expect((await store.jobLogs.tail(job.id)).length).toBe(12);
      expect((await store.jobLogs.after(job.id, 0, { limit: 2 })).map((l) => l.line)).toEqual(["line 0", "line 1"]);
      const long = await store.jobLogs.append(job.id, "info", "x".repeat(20_000));
      expect(long.line.length).toBeLessThan(9_000);
      await expect(store.jobLogs.append("no-job", "info", "x")).rejects.toMatchObject({ code: "not-found" });
      await expect(store.jobLogs.append(job.id, "loud" as "info", "x")).rejects.toMatchObject({ code: "invalid-input" });
    });
  });

  describe("schedules", () => {
    it("upserts by name and fires each due run once (compare-and-set)", async () => {
      const nightly = await store.schedules.upsert({
        name: "nightly-refresh",
        cron: "0 3 * * *",
        timezone: "Europe/Berlin",
        kind: "refresh",
        payload: { source: "prod" },
        nextRunAt: "2026-05-02T01:00:00.000Z",
      });
      expect(nightly).toMatchObject({ enabled: true, lastRunAt: null, payload: { source: "prod" } });
      const changed = await store.schedules.upsert({ name: "nightly-refresh", cron: "30 2 * * *", timezone: "Europe/Berlin", kind: "refresh", payload: {}, nextRunAt: "2026-05-02T00:30:00.000Z" });
      expect(changed).toMatchObject({ id: nightly.id, cron: "30 2 * * *" });
      expect(await store.schedules.findByName("nightly-refresh")).toEqual(changed);

      expect(await store.schedules.due("2026-05-02T00:29:59.999Z")).toEqual([]);
      const [due] = await store.schedules.due("2026-05-02T00:30:00.000Z");
      expect(due?.id).toBe(nightly.id);
      const replica = await harness.open(harness.urlOf(store), clock);
      const claims = await Promise.all([
        store.schedules.claimRun(nightly.id, due!.nextRunAt!, "2026-05-03T00:30:00.000Z"),
        replica.schedules.claimRun(nightly.id, due!.nextRunAt!, "2026-05-03T00:30:00.000Z"),
      ]);
      expect(claims.filter(Boolean)).toHaveLength(1);
      expect(await store.schedules.get(nightly.id)).toMatchObject({ lastRunAt: clock.date().toISOString(), nextRunAt: "2026-05-03T00:30:00.000Z" });

      await store.schedules.setEnabled(nightly.id, false);
      expect(await store.schedules.due("2030-01-01T00:00:00Z")).toEqual([]);
      expect((await store.schedules.list()).map((s) => s.name)).toEqual(["nightly-refresh"]);
      await store.schedules.delete(nightly.id);
      await expect(store.schedules.get(nightly.id)).rejects.toMatchObject({ code: "not-found" });
      await expect(store.schedules.claimRun(nightly.id, "2026-05-03T00:30:00.000Z", null)).rejects.toMatchObject({ code: "not-found" });
    });
  });

  describe("audit", () => {
    it("records events and lists them newest first, filtered and paged", async () => {
      const subject = `snapshot:${uniqueName("s")}`;
      const first = await store.audit.record({ actor: "user:1", action: "snapshot.pin", subject });
      const second = await store.audit.record({ actor: "user:2", action: "snapshot.delete", subject, detail: { reason: "old" } });
      await store.audit.record({ actor: "user:1", action: "token.create", subject: "token:9" });
      expect(second).toMatchObject({ at: clock.date().toISOString(), detail: { reason: "old" } });
      expect((await store.audit.list({ subject })).map((e) => e.seq)).toEqual([second.seq, first.seq]);
      expect((await store.audit.list({ subject, actor: "user:1" })).map((e) => e.action)).toEqual(["snapshot.pin"]);
      expect((await store.audit.list({ subject, beforeSeq: second.seq })).map((e) => e.seq)).toEqual([first.seq]);
      expect((await store.audit.list({ action: "token.create", limit: 1 })).length).toBe(1);
    });
  });

  describe("transactions", () => {
    it("commits repository calls together or not at all", async () => {
      const name = uniqueName("tx");
      await expect(
        store.transaction(async (tx) => {
          const user = await tx.users.create({ name, role: "developer" });
          await tx.audit.record({ actor: "system", action: "user.create", subject: `user:${user.id}` });
          await tx.users.create({ name, role: "ops" }); // conflict: rolls back both writes above
        }),
      ).rejects.toMatchObject({ code: "conflict" });
      expect(await store.users.findByName(name)).toBeUndefined();
      const user = await store.transaction(async (tx) => {
        const created = await tx.users.create({ name, role: "developer" });
        await tx.tokens.create({ userId: created.id, name: "t" });
        return created;
      });
      expect(await store.tokens.list(user.id)).toHaveLength(1);
    });

    it("refuses the outer store inside its own transaction instead of hanging", async () => {
      const name = uniqueName("tx");
      await expect(
        store.transaction(async (tx) => {
          await tx.users.create({ name, role: "developer" });
          await store.users.findByName(name);
        }),
      ).rejects.toMatchObject({ code: "internal", message: /use the store the transaction callback receives/ });
      expect(await store.users.findByName(name)).toBeUndefined();
      // nested transactions on the transaction's store join it
      await store.transaction((tx) => tx.transaction((inner) => inner.users.create({ name, role: "ops" })));
      expect((await store.users.findByName(name))?.role).toBe("ops");
    });
  });
});
