import { describe, expect, it } from "vitest";
import { systemClock } from "./clock.ts";

describe("systemClock", () => {
  it("reads the real time, as ms and as a Date", () => {
    const before = Date.now();
    const ms = systemClock.now();
    const date = systemClock.date();
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(date.getTime()).toBeGreaterThanOrEqual(ms);
    expect(date.getTime() - before).toBeLessThan(1_000);
  });

  it("sleeps for about the time asked", async () => {
    const started = performance.now();
    await systemClock.sleep(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("stops a sleep when its signal aborts, with the signal's reason", async () => {
    const controller = new AbortController();
    const sleeping = systemClock.sleep(60_000, controller.signal);
    controller.abort(new Error("cancelled by the test"));
    await expect(sleeping).rejects.toThrow("cancelled by the test");
    await expect(systemClock.sleep(10, AbortSignal.abort(new Error("already")))).rejects.toThrow("already");
  });

  it("runs a timer once and not at all when cancelled first", async () => {
    const fired: string[] = [];
    systemClock.setTimeout(() => fired.push("kept"), 5);
    systemClock.setTimeout(() => fired.push("cancelled"), 5).cancel();
    await systemClock.sleep(40);
    expect(fired).toEqual(["kept"]);
  });
});
