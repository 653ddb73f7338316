import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "@devenv/core/testing";
import { openStore, type Store } from "@devenv/store";
import { nextRunAfter, ScheduleError, Scheduler } from "./scheduler.ts";

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-scheduler-"));
  store = await openStore({ url: `sqlite:${join(dir, "devenv.db")}` });
});

afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("nextRunAfter", () => {
  it("reads the cron in the schedule's time zone, daylight saving included", () => {
    // 02:30 Berlin is 00:30 UTC in summer and 01:30 UTC in winter
    expect(nextRunAfter("30 2 * * *", "Europe/Berlin", new Date("2026-07-01T12:00:00Z")).toISOString()).toBe("2026-07-02T00:30:00.000Z");
    expect(nextRunAfter("30 2 * * *", "Europe/Berlin", new Date("2026-12-01T12:00:00Z")).toISOString()).toBe("2026-12-02T01:30:00.000Z");
    expect(nextRunAfter("0 3 * * 1-5", "UTC", new Date("2026-11-27T04:00:00Z")).toISOString()).toBe("2026-11-30T03:00:00.000Z"); // Friday → Monday
  });

  it("rejects a bad cron or time zone with what is wrong", () => {
    expect(() => nextRunAfter("61 * * * *", "UTC", new Date())).toThrow(ScheduleError);
    expect(() => nextRunAfter("not a cron", "UTC", new Date())).toThrow(/cron "not a cron"/);
    expect(() => nextRunAfter("0 2 * * *", "Mars/Olympus", new Date())).toThrow(/unknown time zone "Mars\/Olympus"/);
  });
});

describe("Scheduler", () => {
  it("fires a due schedule once, enqueues its job, and moves to the next run", async () => {
    const clock = new ManualClock("2026-11-25T01:00:00Z");
    const scheduler = new Scheduler({ store, clock });
    const schedule = await scheduler.set({ name: `nightly-${Date.now()}`, cron: "0 2 * * *", timezone: "UTC", kind: "refresh", payload: { marker: 1 } });
    expect(schedule.nextRunAt).toBe("2026-11-25T02:00:00.000Z");
    expect(await scheduler.tick()).toEqual([]); // not yet
    clock.set("2026-11-25T02:00:05Z");
    const [jobId] = await scheduler.tick();
    expect(jobId).toBeDefined();
    expect((await store.jobs.get(jobId!)).payload).toEqual({ marker: 1 });
    expect(await scheduler.tick()).toEqual([]); // fired already
    expect((await store.schedules.get(schedule.id)).nextRunAt).toBe("2026-11-26T02:00:00.000Z");
    await store.schedules.delete(schedule.id);
  });

  it("fires a run missed while everything was down once, not once per missed night", async () => {
    const clock = new ManualClock("2026-11-01T00:00:00Z");
    const scheduler = new Scheduler({ store, clock });
    const schedule = await scheduler.set({ name: `missed-${Date.now()}`, cron: "0 2 * * *", timezone: "UTC", kind: "refresh", payload: {} });
    clock.set("2026-11-10T12:00:00Z");
    expect(await scheduler.tick()).toHaveLength(1);
    expect(await scheduler.tick()).toHaveLength(0);
    expect((await store.schedules.get(schedule.id)).nextRunAt).toBe("2026-11-11T02:00:00.000Z");
    await store.schedules.delete(schedule.id);
  });

  it("lets exactly one of several replicas fire a run", async () => {
    const clock = new ManualClock("2026-11-25T01:59:00Z");
    const name = `raced-${Date.now()}`;
    await new Scheduler({ store, clock }).set({ name, cron: "0 2 * * *", timezone: "UTC", kind: "refresh", payload: {} });
    clock.set("2026-11-25T02:00:01Z");
    const replicas = Array.from({ length: 4 }, () => new Scheduler({ store, clock }));
    const fired = (await Promise.all(replicas.map((r) => r.tick()))).flat();
    expect(fired).toHaveLength(1);
    await store.schedules.delete((await store.schedules.findByName(name))!.id);
  });
});
