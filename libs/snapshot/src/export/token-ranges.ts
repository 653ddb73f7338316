/** Murmur3 tokens span the signed 64-bit range; the minimum itself is never a row's token. */
export const minToken = -(2n ** 63n);
export const maxToken = 2n ** 63n - 1n;
const ringSize = 2n ** 64n;

export interface TokenRange {
  /** Exclusive. */
  start: bigint;
  /** Inclusive. */
  end: bigint;
}

/**
 * Splits the ring into `count` equal ranges. Boundaries depend only on the
 * count, so the same data always falls into the same chunks; a power-of-two
 * count also nests inside every larger power of two.
 */
export function splitRing(count: number): TokenRange[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`chunk count must be a positive integer, got ${count}`);
  const n = BigInt(count);
  const ranges: TokenRange[] = [];
  for (let i = 0n; i < n; i++) {
    const start = minToken + (ringSize * i) / n;
    const end = i === n - 1n ? maxToken : minToken + (ringSize * (i + 1n)) / n;
    ranges.push({ start, end });
  }
  return ranges;
}

/** The smallest power of two that is at least `n` (and at least 1), capped. */
export function powerOfTwoAtLeast(n: number, cap: number): number {
  let p = 1;
  while (p < n && p < cap) p *= 2;
  return p;
}
