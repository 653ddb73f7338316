import { systemClock, type Clock } from "./clock.ts";

/**
 * How long to wait before the next try: capped exponential growth, with jitter so that
 * many clients that failed together (a fleet of agents, the replicas of a control plane)
 * do not all come back at the same moment.
 */
export interface BackoffPolicy {
  /** The ceiling of the first wait, in ms. */
  initialMs: number;
  /** No wait is longer than this, in ms. */
  maxMs: number;
  /** Growth of the ceiling per attempt (default 2). */
  multiplier?: number;
  /**
   * `full` (the default): anywhere in [0, ceiling), which spreads clients the most;
   * `equal`: in [ceiling/2, ceiling), which keeps a floor under the wait;
   * `none`: the ceiling itself, for a single client with nobody to collide with.
   */
  jitter?: "full" | "equal" | "none";
}

/**
 * The wait before retry number `attempt` (0 for the wait after the first failure):
 * ceiling = min(maxMs, initialMs * multiplier^attempt), then jittered; whole ms.
 * `random` returns a number in [0, 1), like Math.random.
 */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * (policy.multiplier ?? 2) ** Math.max(0, attempt));
  switch (policy.jitter ?? "full") {
    case "full":
      return Math.floor(random() * ceiling);
    case "equal":
      return Math.floor(ceiling / 2 + random() * (ceiling / 2));
    case "none":
      return ceiling;
  }
}

export interface RetryOptions {
  /** Tries in all, the first one included. */
  attempts: number;
  policy: BackoffPolicy;
  /** Whether a failure is worth another try (default: every failure is). */
  shouldRetry?: (error: unknown, attempt: number) => boolean;
  /** Told before each wait, e.g. to log or count; `attempt` is the try that failed (1-based). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Stops the waits and further tries; the signal's reason is thrown. */
  signal?: AbortSignal;
  clock?: Clock;
  random?: () => number;
}

/**
 * Calls `fn` until it resolves, a failure is not worth retrying, or `attempts` tries have
 * failed; then the last failure is thrown as it was. `fn` gets the try's number (1-based).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const clock = options.clock ?? systemClock;
  const attempts = Math.max(1, options.attempts);
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      options.signal?.throwIfAborted();
      if (attempt >= attempts || !(options.shouldRetry?.(error, attempt) ?? true)) throw error;
      const delayMs = backoffDelay(options.policy, attempt - 1, options.random);
      options.onRetry?.(error, attempt, delayMs);
      await clock.sleep(delayMs, options.signal);
    }
  }
}
