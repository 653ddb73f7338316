import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isStoreError } from "../errors.ts";
import { instanceStates, type InstanceState } from "../model.ts";
import type { Store } from "../store.ts";
import { dialects, storeHarness } from "../testing/store-harness.ts";
import { allowedNextStates, assertTransition, canTransition } from "./instance-lifecycle.ts";

/** The shortest chain of legal moves from `requested` to every state. */
function pathsFromRequested(): Map<InstanceState, InstanceState[]> {
  const paths = new Map<InstanceState, InstanceState[]>([["requested", []]]);
  const queue: InstanceState[] = ["requested"];
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    for (const next of allowedNextStates(state)) {
      if (paths.has(next)) continue;
      paths.set(next, [...(paths.get(state) ?? []), next]);
      queue.push(next);
    }
  }
  return paths;
}

describe("instance lifecycle rules", () => {
  it("reaches every state from requested, and terminated is final", () => {
    const paths = pathsFromRequested();
    expect([...paths.keys()].sort()).toEqual([...instanceStates].sort());
    expect(allowedNextStates("terminated")).toEqual([]);
  });

  it("allows the happy path and the refresh loop", () => {
    const happy: InstanceState[] = ["requested", "provisioning", "registering", "restoring", "ready", "refreshing", "ready", "draining", "terminated"];
    for (let i = 1; i < happy.length; i++) expect(canTransition(happy[i - 1]!, happy[i]!)).toBe(true);
  });

  it("refuses moves backwards and out of terminated, naming the allowed ones", () => {
    expect(canTransition("ready", "provisioning")).toBe(false);
    expect(canTransition("terminated", "ready")).toBe(false);
    expect(canTransition("draining", "ready")).toBe(false);
    expect(canTransition("ready", "ready")).toBe(false);
    expect(() => assertTransition("i1", "ready", "requested")).toThrow(/cannot move from ready to requested.*refreshing, draining/);
    expect(() => assertTransition("i1", "terminated", "ready")).toThrow(/terminal state/);
  });
});

describe.each(dialects)("instances.transition on %s", (dialect) => {
  const harness = storeHarness(dialect);
  let store: Store;
  let ownerId: string;
  const paths = pathsFromRequested();

  beforeAll(async () => {
    store = await harness.fresh();
    ownerId = (await store.users.create({ name: "dev", role: "developer" })).id;
  });
  afterAll(() => harness.cleanup());

  async function instanceIn(state: InstanceState) {
    const instance = await store.instances.create({ ownerId, kind: "personal", provisioner: "local" });
    for (const next of paths.get(state) ?? []) await store.instances.transition(instance.id, { to: next });
    return store.instances.get(instance.id);
  }

  it("enforces the whole matrix: every legal move succeeds, every other one is invalid-transition", async () => {
    const outcomes: string[] = [];
    for (const from of instanceStates) {
      for (const to of instanceStates) {
        const instance = await instanceIn(from);
        expect(instance.state).toBe(from);
        try {
          const moved = await store.instances.transition(instance.id, { to });
          expect(moved.state).toBe(to);
          outcomes.push(`${from}->${to}:ok`);
        } catch (error) {
          if (!isStoreError(error, "invalid-transition")) throw error;
          expect((await store.instances.get(instance.id)).state).toBe(from);
          outcomes.push(`${from}->${to}:refused`);
        }
      }
    }
    const expected = instanceStates.flatMap((from) =>
      instanceStates.map((to) => `${from}->${to}:${canTransition(from, to) ? "ok" : "refused"}`),
    );
    expect(outcomes).toEqual(expected);
    expect(outcomes.filter((o) => o.endsWith(":ok")).length).toBe(
      instanceStates.reduce((n, s) => n + allowedNextStates(s).length, 0),
    );
  });

  it("applies detail and patch with the move", async () => {
    const instance = await instanceIn("provisioning");
    const moved = await store.instances.transition(instance.id, {
      to: "registering",
      detail: "host booted",
      patch: { hostAddress: "10.0.0.7", hostPort: 9042, providerId: "i-0abc" },
    });
    expect(moved).toMatchObject({ state: "registering", stateDetail: "host booted", hostAddress: "10.0.0.7", hostPort: 9042, providerId: "i-0abc" });
    expect((await store.instances.findByProviderId("i-0abc"))?.id).toBe(instance.id);
  });

  it("refuses a move when the caller's expected state is stale (conflict)", async () => {
    const instance = await instanceIn("ready");
    await expect(store.instances.transition(instance.id, { from: "restoring", to: "ready" })).rejects.toMatchObject({ code: "conflict" });
    await expect(store.instances.transition(instance.id, { from: "ready", to: "refreshing" })).resolves.toMatchObject({ state: "refreshing" });
  });

  it("lets exactly one of racing replicas move an instance out of a state", async () => {
    const otherReplica = await harness.open(harness.urlOf(store));
    for (let round = 0; round < 10; round++) {
      const instance = await instanceIn("ready");
      const results = await Promise.allSettled([
        store.instances.transition(instance.id, { from: "ready", to: "refreshing" }),
        otherReplica.instances.transition(instance.id, { from: "ready", to: "draining" }),
        store.instances.transition(instance.id, { from: "ready", to: "failed" }),
        otherReplica.instances.transition(instance.id, { from: "ready", to: "terminated" }),
      ]);
      const winners = results.flatMap((r) => (r.status === "fulfilled" ? [r.value.state] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (r.status === "rejected") expect(r.reason).toMatchObject({ code: "conflict" });
      expect((await store.instances.get(instance.id)).state).toBe(winners[0]);
    }
  });

  it("reports an unknown instance as not-found", async () => {
    await expect(store.instances.transition("nope", { to: "provisioning" })).rejects.toMatchObject({ code: "not-found" });
  });
});
