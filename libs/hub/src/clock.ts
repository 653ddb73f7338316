/** A timer created through a Clock; cancel it with the same clock. */
export interface ClockTimer {
  cancel(): void;
}

/**
 * Time as the hub sees it. Heartbeat deadlines and the hello deadline go through this,
 * so tests move time forward instead of sleeping.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): ClockTimer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    // hub timers never keep a process alive on their own
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};
