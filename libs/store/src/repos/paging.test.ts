import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { ManualClock } from "@devenv/core/testing";
import type { Store } from "../store.ts";
import { everyPage } from "../support/paging.ts";
import { dialects, storeHarness, storeTestEpoch } from "../testing/store-harness.ts";

// Fleet-wide loops (metrics, reaper, reconcile) must see every instance and agent,
// not the first page: keyset paging and counts done by the database.
describe.each(dialects)("paging and counts on %s", (dialect) => {
  const harness = storeHarness(dialect);
  let clock: ManualClock;
  let store: Store;

  beforeEach(async () => {
    clock = new ManualClock(storeTestEpoch);
    store = await harness.fresh(clock);
  });
  afterAll(() => harness.cleanup());

  it("pages through every instance once, in creation order, even with equal creation times and rows added meanwhile", async () => {
    const owner = await store.users.create({ name: "dev", role: "developer" });
    const created: string[] = [];
    for (let i = 0; i < 23; i++) {
      // three at a time share a creation instant: the id breaks the tie
      if (i % 3 === 0) clock.advance(1);
      created.push((await store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "local" })).id);
    }
    const seen: string[] = [];
    for await (const instance of everyPage((page) => store.instances.list({ kind: "personal", ...page }), 5)) {
      seen.push(instance.id);
      // a row created while paging comes after every cursor: it is seen at the end, never twice
      if (seen.length === 7) {
        clock.advance(1);
        created.push((await store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "local" })).id);
      }
    }
    const inOrder = (await Promise.all(created.map((id) => store.instances.get(id)))).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)).map((i) => i.id);
    expect(seen).toEqual(inOrder);
    await expect(store.instances.list({ after: "no-such-instance" })).rejects.toMatchObject({ code: "invalid-input", message: /no instance no-such-instance/ });
  });

  it("counts instances, agents and jobs by state in the database", async () => {
    const owner = await store.users.create({ name: "dev", role: "developer" });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await store.instances.create({ ownerId: owner.id, kind: i === 3 ? "shared" : "personal", provisioner: "local" })).id);
    await store.instances.transition(ids[0]!, { to: "provisioning" });
    const counts = await store.instances.countByState();
    expect(counts).toMatchObject({ requested: 3, provisioning: 1, ready: 0 });
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(4);
    expect((await store.instances.countByState({ kind: "shared" })).requested).toBe(1);

    for (const id of ids.slice(0, 3)) await store.agents.register(id, { identity: {}, version: "1", state: id === ids[0] ? "ready" : "booting" });
    expect(await store.agents.countByState()).toEqual({ ready: 1, booting: 2 });
    const agents: string[] = [];
    for await (const agent of everyPage((page) => store.agents.list(page), 2)) agents.push(agent.instanceId);
    expect(agents.sort()).toEqual(ids.slice(0, 3).sort());

    await store.jobs.enqueueMany([{ kind: "shrink", payload: {} }, { kind: "shrink-task", payload: {} }, { kind: "shrink-task", payload: {} }]);
    await store.jobs.lease({ owner: "r", kinds: ["shrink"], leaseMs: 1000 });
    const jobs = await store.jobs.countByKindAndState(["queued", "running"]);
    expect(jobs.sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: "shrink", state: "running", count: 1 },
      { kind: "shrink-task", state: "queued", count: 2 },
    ]);
    expect(await store.jobs.countByKindAndState([])).toEqual([]);
  });
});
