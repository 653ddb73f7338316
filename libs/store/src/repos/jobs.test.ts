import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "@devenv/core/testing";
import type { Job } from "../model.ts";
import type { Store } from "../store.ts";
import { dialects, storeHarness, storeTestEpoch } from "../testing/store-harness.ts";

describe.each(dialects)("job queue on %s", (dialect) => {
  const harness = storeHarness(dialect);
  let clock: ManualClock;
  let store: Store;

  // a queue test must see only its own jobs
  beforeEach(async () => {
    clock = new ManualClock(storeTestEpoch);
    store = await harness.fresh(clock);
  });
  afterAll(() => harness.cleanup());

  const lease = (owner: string, kinds: Job["kind"][] = ["shrink", "refresh", "shrink-task"], leaseMs = 30_000) =>
    store.jobs.lease({ owner, kinds, leaseMs });

  it("leases the oldest due job of the asked kinds, once", async () => {
    const first = await store.jobs.enqueue({ kind: "shrink", payload: { n: 1 } });
    const refresh = await store.jobs.enqueue({ kind: "refresh", payload: { n: 2 } });
    const second = await store.jobs.enqueue({ kind: "shrink", payload: { n: 3 } });

    const leased = await lease("runner-a", ["shrink"]);
    expect(leased).toMatchObject({ id: first.id, state: "running", attempts: 1, leaseOwner: "runner-a", payload: { n: 1 } });
    expect(leased?.leaseExpiresAt).toBe(new Date(clock.now() + 30_000).toISOString());
    expect((await lease("runner-b", ["shrink"]))?.id).toBe(second.id);
    expect(await lease("runner-c", ["shrink"])).toBeNull();
    expect((await lease("runner-c", ["refresh"]))?.id).toBe(refresh.id);
    expect(await lease("runner-d")).toBeNull();
    expect(await lease("runner-d", [])).toBeNull();
  });

  it("does not lease a job before its runAfter", async () => {
    await store.jobs.enqueue({ kind: "refresh", payload: null, runAfter: new Date(clock.now() + 60_000) });
    expect(await lease("r")).toBeNull();
    clock.advance(60_000);
    expect(await lease("r")).toMatchObject({ kind: "refresh", payload: null });
  });

  it("completes a job with its result, only by the lease owner", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: {} });
    await lease("owner");
    await expect(store.jobs.complete(job.id, "someone-else", {})).rejects.toMatchObject({ code: "conflict" });
    clock.advance(5_000);
    const done = await store.jobs.complete(job.id, "owner", { snapshotId: "s1", rows: 42 });
    expect(done).toMatchObject({ state: "succeeded", result: { snapshotId: "s1", rows: 42 }, leaseOwner: null, finishedAt: clock.date().toISOString() });
    await expect(store.jobs.complete(job.id, "owner")).rejects.toMatchObject({ code: "conflict", message: /it is succeeded/ });
    expect(await lease("owner")).toBeNull();
  });

  it("retries a failed job until maxAttempts, then it stays failed", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: {}, maxAttempts: 3 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const leased = await lease(`r${attempt}`);
      expect(leased).toMatchObject({ id: job.id, attempts: attempt });
      const failed = await store.jobs.fail(job.id, `r${attempt}`, `boom ${attempt}`, { retryAfterMs: 1_000 });
      expect(failed.error).toBe(`boom ${attempt}`);
      if (attempt < 3) {
        expect(failed).toMatchObject({ state: "queued", leaseOwner: null, finishedAt: null });
        expect(await lease("too-early")).toBeNull(); // back-off
        clock.advance(1_000);
      } else {
        expect(failed).toMatchObject({ state: "failed", finishedAt: clock.date().toISOString() });
      }
    }
    clock.advance(60_000);
    expect(await lease("late")).toBeNull();
    expect(await store.jobs.get(job.id)).toMatchObject({ state: "failed", attempts: 3 });
  });

  it("retries the job of a runner that died: an expired lease is leasable again", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: {}, maxAttempts: 2 });
    await lease("crashed-runner", ["shrink"], 10_000);
    clock.advance(9_999);
    expect(await lease("rescuer")).toBeNull(); // lease still valid
    clock.advance(1);
    const retried = await lease("rescuer", ["shrink"], 10_000);
    expect(retried).toMatchObject({ id: job.id, attempts: 2, leaseOwner: "rescuer" });
    // the dead runner coming back cannot touch it any more
    await expect(store.jobs.renewLease(job.id, "crashed-runner", 10_000)).rejects.toMatchObject({ code: "conflict", message: /belongs to rescuer/ });
    await expect(store.jobs.complete(job.id, "crashed-runner")).rejects.toMatchObject({ code: "conflict" });
    // and when the last attempt's runner dies too, the job fails instead of running forever
    clock.advance(10_000);
    expect(await lease("third")).toBeNull();
    expect(await store.jobs.get(job.id)).toMatchObject({ state: "failed", attempts: 2, error: /lease expired/ });
  });

  it("keeps a lease alive while the runner renews it", async () => {
    const job = await store.jobs.enqueue({ kind: "refresh", payload: {} });
    await lease("worker", ["refresh"], 10_000);
    for (let i = 0; i < 5; i++) {
      clock.advance(8_000);
      const renewed = await store.jobs.renewLease(job.id, "worker", 10_000);
      expect(renewed.leaseExpiresAt).toBe(new Date(clock.now() + 10_000).toISOString());
      expect(await lease("thief")).toBeNull();
    }
    expect((await store.jobs.complete(job.id, "worker")).state).toBe("succeeded");
  });

  it("cancels a job with its unfinished children; the runner learns it on renew", async () => {
    const parent = await store.jobs.enqueue({ kind: "shrink", payload: { keyspace: "shop" } });
    const tasks = await store.jobs.enqueueMany(
      [0, 1, 2].map((range) => ({ kind: "shrink-task" as const, payload: { range }, parentId: parent.id })),
    );
    const running = await lease("task-runner", ["shrink-task"]);
    expect(running?.id).toBe(tasks[0]?.id);
    await store.jobs.complete(tasks[0]!.id, "task-runner", { rows: 10 });
    await lease("task-runner", ["shrink-task"]);
    expect(await store.jobs.childCounts(parent.id)).toEqual({ queued: 1, running: 1, succeeded: 1, failed: 0, cancelled: 0 });

    const cancelled = await store.jobs.cancel(parent.id);
    expect(cancelled.state).toBe("cancelled");
    expect(await store.jobs.childCounts(parent.id)).toEqual({ queued: 0, running: 0, succeeded: 1, failed: 0, cancelled: 2 });
    await expect(store.jobs.renewLease(tasks[1]!.id, "task-runner", 1_000)).rejects.toMatchObject({ code: "conflict", message: /cancelled/ });
    await expect(store.jobs.cancel(parent.id)).rejects.toMatchObject({ code: "invalid-transition" });
    await expect(store.jobs.cancel(tasks[0]!.id)).rejects.toMatchObject({ code: "invalid-transition" });
    expect(await lease("anyone")).toBeNull();
    expect((await store.jobs.list({ parentId: parent.id })).map((j) => j.state).sort()).toEqual(["cancelled", "cancelled", "succeeded"]);
  });

  it("lists newest first with filters", async () => {
    const a = await store.jobs.enqueue({ kind: "shrink", payload: 1 });
    const b = await store.jobs.enqueue({ kind: "refresh", payload: 2 });
    const c = await store.jobs.enqueue({ kind: "shrink", payload: 3 });
    await lease("r", ["refresh"]);
    expect((await store.jobs.list()).map((j) => j.id)).toEqual([c.id, b.id, a.id]);
    expect((await store.jobs.list({ kinds: ["shrink"] })).map((j) => j.id)).toEqual([c.id, a.id]);
    expect((await store.jobs.list({ states: ["running"] })).map((j) => j.id)).toEqual([b.id]);
    expect((await store.jobs.list({ limit: 1 })).map((j) => j.id)).toEqual([c.id]);
    await expect(store.jobs.list({ limit: 0 })).rejects.toMatchObject({ code: "invalid-input" });
    await expect(store.jobs.get("missing")).rejects.toMatchObject({ code: "not-found" });
    expect(await store.jobs.find("missing")).toBeUndefined();
  });

  it("refuses bad input with invalid-input and changes nothing", async () => {
    await expect(store.jobs.enqueue({ kind: "bogus" as Job["kind"], payload: {} })).rejects.toMatchObject({ code: "invalid-input" });
    await expect(store.jobs.enqueue({ kind: "shrink", payload: {}, maxAttempts: 0 })).rejects.toMatchObject({ code: "invalid-input" });
    await expect(store.jobs.enqueue({ kind: "shrink", payload: {}, runAfter: "yesterday-ish" })).rejects.toMatchObject({ code: "invalid-input" });
    await expect(store.jobs.enqueue({ kind: "shrink", payload: {}, parentId: "no-such-parent" })).rejects.toMatchObject({ code: "not-found" });
    expect(await store.jobs.list()).toEqual([]);
  });

  it("two leasers never get the same job", async () => {
    const other = await harness.open(harness.urlOf(store), clock);
    const jobs = await store.jobs.enqueueMany(Array.from({ length: 40 }, (_, i) => ({ kind: "shrink-task" as const, payload: { i } })));
    const leasedBy = new Map<string, string>();
    // several leasers per store: on PostgreSQL they run on different pool connections at once
    const leaser = async (s: Store, owner: string) => {
      for (;;) {
        const job = await s.jobs.lease({ owner, kinds: ["shrink-task"], leaseMs: 60_000 });
        if (!job) return;
        expect(leasedBy.has(job.id), `job ${job.id} leased twice`).toBe(false);
        leasedBy.set(job.id, owner);
      }
    };
    await Promise.all([
      leaser(store, "a1"), leaser(store, "a2"), leaser(store, "a3"),
      leaser(other, "b1"), leaser(other, "b2"), leaser(other, "b3"),
    ]);
    expect(leasedBy.size).toBe(jobs.length);
    const owners = new Set(leasedBy.values());
    expect(owners.size).toBeGreaterThan(1);
    const running = await store.jobs.list({ states: ["running"], limit: 1000 });
    expect(running.map((j) => j.attempts)).toEqual(jobs.map(() => 1));
  });

});
