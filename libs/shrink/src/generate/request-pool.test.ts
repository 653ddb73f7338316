import { describe, expect, it } from "vitest";
import type { BackoffPolicy } from "@devenv/core";
import { RequestPool } from "./request-pool.ts";

const noWait: BackoffPolicy = { initialMs: 0, maxMs: 0 };

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("RequestPool", () => {
  it("never has more than its limit in flight, and drains", async () => {
    const pool = new RequestPool(3, noWait);
    let inFlight = 0;
    let peak = 0;
    let done = 0;
    for (let i = 0; i < 20; i++) {
      await pool.submit(
        async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setImmediate(r));
          inFlight--;
        },
        { idempotent: true, onDone: () => done++ },
      );
    }
    await pool.drain();
    expect(peak).toBe(3);
    expect(done).toBe(20);
  });

  it("retries an idempotent request that timed out, never a counter increment", async () => {
    const timeout = Object.assign(new Error("write timeout"), { code: 0x1100 });
    const pool = new RequestPool(2, noWait);
    let attempts = 0;
    await pool.submit(
      async () => {
        if (++attempts < 3) throw timeout;
      },
      { idempotent: true },
    );
    await pool.drain();
    expect(attempts).toBe(3);
    expect(pool.retries).toBe(2);

    const counters = new RequestPool(2, noWait);
    await counters.submit(() => Promise.reject(timeout), { idempotent: false });
    await expect(counters.drain()).rejects.toBe(timeout);
  });

  it("stops taking work after the first failure and rethrows it", async () => {
    const pool = new RequestPool(1, noWait);
    const first = deferred();
    const invalid = Object.assign(new Error("Invalid query"), { code: 0x2200 });
    await pool.submit(() => first.promise, { idempotent: true });
    const second = pool.submit(() => Promise.resolve(), { idempotent: true });
    first.reject(invalid);
    await expect(second).rejects.toBe(invalid);
    await expect(pool.drain()).rejects.toBe(invalid);
  });
});
