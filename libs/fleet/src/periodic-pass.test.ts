import { describe, expect, it } from "vitest";
import { PeriodicPass } from "./periodic-pass.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("PeriodicPass", () => {
  it("runs at once, then after each pass ends, never two at a time; stop waits for the pass in progress", async () => {
    let running = 0;
    let overlapped = false;
    let passes = 0;
    let finished = 0;
    const loop = new PeriodicPass({
      intervalMs: 5,
      pass: async () => {
        running++;
        overlapped ||= running > 1;
        passes++;
        await sleep(20);
        running--;
        finished++;
      },
      onError: () => {},
    });
    loop.start();
    loop.start(); // a second start changes nothing
    await sleep(90);
    await loop.stop();
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(overlapped).toBe(false);
    expect(finished).toBe(passes);
    await sleep(40);
    expect(passes).toBe(finished); // nothing ran after stop
  });

  it("hands a failing pass to onError and keeps going", async () => {
    const errors: unknown[] = [];
    let passes = 0;
    const loop = new PeriodicPass({
      intervalMs: 5,
      pass: async () => {
        passes++;
        throw new Error(`pass ${passes} failed`);
      },
      onError: (error) => errors.push(error),
    });
    loop.start();
    await sleep(60);
    await loop.stop();
    expect(passes).toBeGreaterThanOrEqual(2);
    expect(errors.map((e) => (e as Error).message).slice(0, 2)).toEqual(["pass 1 failed", "pass 2 failed"]);
  });

  it("refuses an interval that is not positive", () => {
    expect(() => new PeriodicPass({ intervalMs: 0, pass: async () => {}, onError: () => {} })).toThrow(/intervalMs must be positive/);
  });
});
