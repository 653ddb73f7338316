export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const defaultReconnectBackoff: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/**
 * Capped exponential backoff with full jitter: a uniformly random wait in
 * [0, min(cap, base * 2^attempt)). Full jitter spreads a fleet that lost the control
 * plane at the same moment, so its return is not a thundering herd.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
