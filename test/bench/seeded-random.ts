/**
 * A small deterministic generator (mulberry32) seeded from (seed, stream, index), so any
 * row can be regenerated on its own: the verifier and the naive loader rebuild exactly
 * the rows the data generator wrote, without keeping them.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number, stream: number, index: number) {
    this.state = fmix32(fmix32(seed ^ Math.imul(stream + 1, 0x9e3779b9)) ^ fmix32(index + 0x7f4a7c15));
  }

  /** A uniform unsigned 32-bit integer. */
  uint32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n) for n up to 2^32. */
  below(n: number): number {
    return Math.floor((this.uint32() / 0x1_0000_0000) * n);
  }

  /** A uniform double in [0, 1) using all 53 bits of mantissa. */
  double(): number {
    return ((this.uint32() >>> 5) * 0x400_0000 + (this.uint32() >>> 6)) / 2 ** 53;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

/** MurmurHash3's 32-bit finaliser: spreads every input bit over the output. */
function fmix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
