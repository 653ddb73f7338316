import { describe, expect, it } from "vitest";
import { ManualClock } from "./testing/manual-clock.ts";
import { backoffDelay, retry, type BackoffPolicy } from "./retry.ts";

const highest = () => 0.999_999;
const lowest = () => 0;

describe("backoffDelay", () => {
  it("doubles the ceiling up to the cap, with full jitter by default", () => {
    const policy: BackoffPolicy = { initialMs: 100, maxMs: 2_000 };
    expect([0, 1, 2, 3, 4, 5, 10].map((a) => backoffDelay(policy, a, highest))).toEqual([99, 199, 399, 799, 1599, 1999, 1999]);
    expect(backoffDelay(policy, 7, lowest)).toBe(0);
    expect(backoffDelay(policy, -3, highest)).toBe(99);
  });

  it("keeps half the ceiling as a floor with equal jitter", () => {
    const policy: BackoffPolicy = { initialMs: 200, maxMs: 5_000, jitter: "equal" };
    expect([0, 1, 5].map((a) => backoffDelay(policy, a, lowest))).toEqual([100, 200, 2_500]);
    expect([0, 1, 5].map((a) => backoffDelay(policy, a, highest))).toEqual([199, 399, 4_999]);
  });

  it("waits the ceiling itself without jitter, growing by the multiplier", () => {
    const policy: BackoffPolicy = { initialMs: 100, maxMs: 1_000, multiplier: 3, jitter: "none" };
    expect([0, 1, 2, 3].map((a) => backoffDelay(policy, a))).toEqual([100, 300, 900, 1_000]);
  });
});

describe("retry", () => {
  const policy: BackoffPolicy = { initialMs: 100, maxMs: 1_000, jitter: "none" };

  it("tries again after each failure's wait and returns the first success", async () => {
    const clock = new ManualClock(0);
    const tried: [number, number][] = [];
    const result = retry(
      async (attempt) => {
        tried.push([attempt, clock.now()]);
        if (attempt < 3) throw new Error(`failure ${attempt}`);
        return "done";
      },
      { attempts: 5, policy, clock },
    );
    await until(() => clock.pendingTimers === 1);
    clock.advance(100);
    await until(() => tried.length === 2 && clock.pendingTimers === 1);
    clock.advance(200);
    await expect(result).resolves.toBe("done");
    expect(tried).toEqual([
      [1, 0],
      [2, 100],
      [3, 300],
    ]);
  });

  it("throws the last failure as it was once the attempts are spent", async () => {
    const failures: Error[] = [];
    const retried: [number, number][] = [];
    const outcome = retry(
      async (attempt) => {
        const failure = new Error(`failure ${attempt}`);
        failures.push(failure);
        throw failure;
      },
      { attempts: 3, policy: { initialMs: 1, maxMs: 1 }, onRetry: (_error, attempt, delayMs) => retried.push([attempt, delayMs]), random: lowest },
    );
    const thrown = await outcome.catch((error: unknown) => error);
    expect(failures).toHaveLength(3);
    expect(thrown).toBe(failures[2]);
    expect(retried).toEqual([
      [1, 0],
      [2, 0],
    ]);
  });

  it("gives up at once on a failure that is not worth retrying", async () => {
    let calls = 0;
    const permanent = new Error("refused");
    await expect(
      retry(
        async () => {
          calls += 1;
          throw permanent;
        },
        { attempts: 5, policy, shouldRetry: (error) => error !== permanent },
      ),
    ).rejects.toBe(permanent);
    expect(calls).toBe(1);
  });

  it("stops waiting when the signal aborts, with the signal's reason", async () => {
    const clock = new ManualClock(0);
    const controller = new AbortController();
    let calls = 0;
    const outcome = retry(
      async () => {
        calls += 1;
        throw new Error("down");
      },
      { attempts: 10, policy, clock, signal: controller.signal },
    );
    await until(() => clock.pendingTimers === 1);
    controller.abort(new Error("cancelled"));
    await expect(outcome).rejects.toThrow("cancelled");
    expect(calls).toBe(1);
  });
});

/** Lets pending promise callbacks run until `condition` holds (no real time passes). */
async function until(condition: () => boolean): Promise<void> {
  for (let turn = 0; turn < 100 && !condition(); turn++) await new Promise((resolve) => setImmediate(resolve));
  expect(condition()).toBe(true);
}
