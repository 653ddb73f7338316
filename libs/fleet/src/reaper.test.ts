import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Instance } from "@devenv/store";
import { reapInstances, type ReapReason, type ReaperOptions } from "./reaper.ts";
import { ec2State, fleetTestEnv, minutes, provisionAndRecord, type FleetTestEnv } from "./testing/fleet-test-env.ts";

const hours = (n: number) => minutes(60 * n);

describe("reaper", () => {
  let env: FleetTestEnv;
  let warnings: { instanceId: string; reason: ReapReason; at: string }[];
  let start: number;
  let reaper: (overrides?: Partial<ReaperOptions>) => ReturnType<typeof reapInstances>;

  beforeEach(async () => {
    env = await fleetTestEnv();
    warnings = [];
    start = env.clock.now();
    const provisioners = { ec2: env.ec2() };
    reaper = (overrides = {}) =>
      reapInstances({
        store: env.store,
        instances: env.instances(provisioners),
        clock: env.clock,
        idleLimitMs: hours(24),
        warn: (instance: Instance, reason: ReapReason, at: Date) => {
          warnings.push({ instanceId: instance.id, reason, at: at.toISOString() });
        },
        ...overrides,
      });
  });
  afterEach(async () => env?.close());

  const at = (ms: number) => new Date(start + ms).toISOString();
  const advanceTo = (ms: number) => env.clock.advance(start + ms - env.clock.now());
  const readyInstance = async (input: Parameters<FleetTestEnv["newInstance"]>[0] = {}) =>
    provisionAndRecord(env, env.ec2(), await env.newInstance(input), "ready");

  it("warns the owner once before the TTL, then drains and terminates the instance and its EC2 host", async () => {
    const instance = await readyInstance({ ttlExpiresAt: new Date(start + hours(4)) });

    advanceTo(hours(3) + minutes(20));
    expect(await reaper()).toEqual([]);
    expect(warnings).toEqual([]);

    advanceTo(hours(3) + minutes(31));
    expect(await reaper()).toEqual([{ instanceId: instance.id, action: "warned", reason: "ttl", deadline: at(hours(4)) }]);
    expect(warnings).toEqual([{ instanceId: instance.id, reason: "ttl", at: at(hours(4)) }]);
    const [audit] = await env.store.audit.list({ subject: `instance:${instance.id}`, action: "instance.reap-warning" });
    expect(audit?.detail).toMatchObject({ reason: "ttl", deadline: at(hours(4)), ownerId: instance.ownerId });

    advanceTo(hours(3) + minutes(50));
    expect(await reaper()).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(await ec2State(env.client, instance.providerId!)).toBe("running");

    advanceTo(hours(4) + minutes(1));
    expect(await reaper()).toEqual([{ instanceId: instance.id, action: "reaped", reason: "ttl", deadline: at(hours(4)) }]);
    const reaped = await env.store.instances.get(instance.id);
    expect(reaped.state).toBe("terminated");
    expect(reaped.stateDetail).toMatch(/^reaped: its time to live ended at /);
    expect(await ec2State(env.client, instance.providerId!)).toBe("terminated");
    expect(warnings).toHaveLength(1);
  });

  it("an extended TTL keeps the instance, and the new deadline gets its own warning", async () => {
    const instance = await readyInstance({ ttlExpiresAt: new Date(start + hours(1)) });
    advanceTo(minutes(45));
    expect((await reaper()).map((outcome) => outcome.action)).toEqual(["warned"]);

    await env.store.instances.update(instance.id, { ttlExpiresAt: new Date(start + hours(3)) });
    advanceTo(hours(1) + minutes(5));
    expect(await reaper()).toEqual([]);
    expect((await env.store.instances.get(instance.id)).state).toBe("ready");

    advanceTo(hours(2) + minutes(35));
    expect(await reaper()).toEqual([{ instanceId: instance.id, action: "warned", reason: "ttl", deadline: at(hours(3)) }]);
    advanceTo(hours(3));
    expect((await reaper()).map((outcome) => outcome.action)).toEqual(["reaped"]);
    expect(warnings.map((warning) => warning.at)).toEqual([at(hours(1)), at(hours(3))]);
  });

  it("reaps after the idle limit counted from the last database use the agent reported, warning first", async () => {
    const idle = await readyInstance();
    const busy = await readyInstance({ ownerName: "omar" });
    const options = { idleLimitMs: hours(2) };

    advanceTo(hours(1));
    await env.store.instances.touch(idle.id); // last real use at +1 h: idle deadline +3 h
    advanceTo(hours(2) + minutes(20));
    await env.store.instances.touch(busy.id);
    expect(await reaper(options)).toEqual([]);

    advanceTo(hours(2) + minutes(40));
    expect(await reaper(options)).toEqual([{ instanceId: idle.id, action: "warned", reason: "idle", deadline: at(hours(3)) }]);
    expect(warnings).toEqual([{ instanceId: idle.id, reason: "idle", at: at(hours(3)) }]);

    advanceTo(hours(3) + minutes(1));
    await env.store.instances.touch(busy.id);
    expect(await reaper(options)).toEqual([{ instanceId: idle.id, action: "reaped", reason: "idle", deadline: at(hours(3)) }]);
    const reaped = await env.store.instances.get(idle.id);
    expect(reaped.state).toBe("terminated");
    expect(reaped.stateDetail).toBe(`reaped: no database use since ${at(hours(1))} (idle limit 2 h)`);
    expect(await ec2State(env.client, idle.providerId!)).toBe("terminated");
    expect((await env.store.instances.get(busy.id)).state).toBe("ready");
    expect(await ec2State(env.client, busy.providerId!)).toBe("running");
  });

  it("use after the warning postpones the reaping", async () => {
    const instance = await readyInstance();
    const options = { idleLimitMs: hours(2) };
    advanceTo(hours(1) + minutes(45));
    expect((await reaper(options)).map((outcome) => outcome.action)).toEqual(["warned"]);
    await env.store.instances.touch(instance.id); // the developer ran a query
    advanceTo(hours(2) + minutes(5));
    expect(await reaper(options)).toEqual([]);
    expect((await env.store.instances.get(instance.id)).state).toBe("ready");
  });

  it("never warns about or reaps shared instances, whatever their TTL and idleness", async () => {
    const shared = await readyInstance({ kind: "shared", ttlExpiresAt: new Date(start + minutes(10)) });
    advanceTo(hours(48));
    expect(await reaper({ idleLimitMs: hours(1) })).toEqual([]);
    advanceTo(hours(49));
    expect(await reaper({ idleLimitMs: hours(1) })).toEqual([]);
    expect(warnings).toEqual([]);
    expect((await env.store.instances.get(shared.id)).state).toBe("ready");
    expect(await ec2State(env.client, shared.providerId!)).toBe("running");
  });

  it("when the warning comes late, the owner still gets the minimum notice", async () => {
    const instance = await readyInstance({ ttlExpiresAt: new Date(start + hours(1)) });
    advanceTo(hours(2)); // the reaper was down through the warning window and the deadline
    expect((await reaper()).map((outcome) => outcome.action)).toEqual(["warned"]);
    advanceTo(hours(2) + minutes(4));
    expect(await reaper()).toEqual([]);
    advanceTo(hours(2) + minutes(5));
    expect((await reaper()).map((outcome) => [outcome.instanceId, outcome.action])).toEqual([[instance.id, "reaped"]]);
  });
});
