import type { Clock, ClockTimer } from "../clock.ts";

interface PendingTimer {
  at: number;
  order: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when a test says so, firing due timers (and waking sleeps) in
 * time order. It starts at a fixed instant unless told otherwise; tests that compare with
 * times another system stamps (moto's EC2 launch times) start it at `new Date()`.
 */
export class ManualClock implements Clock {
  #current: number;
  #timers: PendingTimer[] = [];
  #created = 0;

  constructor(start: Date | string | number = "2026-01-01T00:00:00.000Z") {
    this.#current = instant(start);
  }

  now(): number {
    return this.#current;
  }

  date(): Date {
    return new Date(this.#current);
  }

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    const timer: PendingTimer = { at: this.#current + Math.max(0, delayMs), order: this.#created++, callback, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const timer = this.setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        timer.cancel();
        reject(signal?.reason as Error);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Moves time forward by `ms`, running each timer that falls due (including ones scheduled meanwhile). */
  advance(ms: number): void {
    const target = this.#current + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!due) break;
      this.#current = Math.max(this.#current, due.at);
      due.cancelled = true;
      due.callback();
    }
    this.#current = target;
  }

  /** Moves time to `at`, running the timers due by then. */
  set(at: Date | string | number): void {
    this.advance(instant(at) - this.#current);
  }

  /** Timers and sleeps not yet due. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }
}

function instant(at: Date | string | number): number {
  const ms = typeof at === "number" ? at : new Date(at).getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`not a time: ${String(at)}`);
  return ms;
}
