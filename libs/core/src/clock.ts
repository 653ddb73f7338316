/** A timer started through a Clock; cancelling one that already fired does nothing. */
export interface ClockTimer {
  cancel(): void;
}

/**
 * Time as every part of devenv reads it: deadlines, leases, expiry, heartbeats, polls.
 * It is passed in, so a test moves time (ManualClock from `@devenv/core/testing`)
 * instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** `now()` as a Date. */
  date(): Date;
  /** Runs `callback` after `delayMs`. The timer never keeps the process alive on its own. */
  setTimeout(callback: () => void, delayMs: number): ClockTimer;
  /** Resolves after `ms`; rejects with the signal's reason as soon as it aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  date: () => new Date(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    // a background timer (a heartbeat sweep, a hello deadline) must not hold up exit
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      // unlike setTimeout above this one stays referenced: someone awaits it
      const handle = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(handle);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
