import { describe, expect, it } from "vitest";
import { ManualClock } from "./manual-clock.ts";

describe("ManualClock", () => {
  it("stands still until advanced or set", () => {
    const clock = new ManualClock("2026-05-01T10:00:00.000Z");
    expect(clock.date().toISOString()).toBe("2026-05-01T10:00:00.000Z");
    clock.advance(1_500);
    expect(clock.now()).toBe(Date.parse("2026-05-01T10:00:01.500Z"));
    clock.set("2026-05-02T00:00:00Z");
    expect(clock.date().toISOString()).toBe("2026-05-02T00:00:00.000Z");
    expect(new ManualClock(new Date(0)).now()).toBe(0);
    expect(() => new ManualClock("not a date")).toThrow(/not a time/);
  });

  it("fires due timers in time order, each at its own instant, and skips cancelled ones", () => {
    const clock = new ManualClock(0);
    const fired: [string, number][] = [];
    clock.setTimeout(() => fired.push(["late", clock.now()]), 300);
    clock.setTimeout(() => fired.push(["early", clock.now()]), 100);
    clock.setTimeout(() => fired.push(["cancelled", clock.now()]), 200).cancel();
    clock.advance(99);
    expect(fired).toEqual([]);
    clock.advance(500);
    expect(fired).toEqual([
      ["early", 100],
      ["late", 300],
    ]);
    expect(clock.now()).toBe(599);
    expect(clock.pendingTimers).toBe(0);
  });

  it("runs a timer that a due timer schedules when it falls inside the same advance", () => {
    const clock = new ManualClock(0);
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 50);
    }, 100);
    clock.advance(200);
    expect(fired).toEqual([100, 150]);
  });

  it("wakes a sleep when time reaches it, and rejects it on abort", async () => {
    const clock = new ManualClock(0);
    let woke = false;
    const sleeping = clock.sleep(1_000).then(() => (woke = true));
    clock.advance(999);
    await Promise.resolve();
    expect(woke).toBe(false);
    clock.advance(1);
    await sleeping;
    expect(woke).toBe(true);

    const controller = new AbortController();
    const aborted = clock.sleep(1_000, controller.signal);
    controller.abort(new Error("stop"));
    await expect(aborted).rejects.toThrow("stop");
    expect(clock.pendingTimers).toBe(0);
  });
});
