import { createHash } from "node:crypto";

// Probe positions of the value being added or tested; single-threaded, so shared.
let positions = new Float64Array(64);

export interface BloomFilterSize {
  bits: number;
  hashes: number;
  bytes: number;
}

/**
 * A set of strings that answers "maybe present" or "certainly absent" in
 * ~1.44·log2(1/p) bits per value: the audit keeps every source PII value
 * (normalised by the caller) without keeping the values. 10M values at
 * p = 1e-9 take 53.9 MB.
 *
 * Indexes come from two seeded 53-bit hashes of the value by enhanced double
 * hashing (Dillinger & Manolios), so k probes cost two passes over the string.
 * The hash is a fast non-cryptographic one (the audit probes every word run
 * of every cell: a SHA-256 per probe was half of a shrink's CPU); the filter
 * never leaves the process, and a salt gives each filter its own seeds.
 */
export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  readonly #words: Uint8Array;
  readonly #seedA: number;
  readonly #seedB: number;
  #count = 0;

  constructor(capacity: number, falsePositiveRate: number, options: { salt?: Uint8Array } = {}) {
    const size = BloomFilter.sizeFor(capacity, falsePositiveRate);
    this.bits = size.bits;
    this.hashes = size.hashes;
    this.#words = new Uint8Array(size.bytes);
    const seeds = createHash("sha256").update(options.salt ?? new Uint8Array(0)).digest();
    this.#seedA = seeds.readUInt32LE(0);
    this.#seedB = seeds.readUInt32LE(4);
  }

  /** Optimal size for `capacity` values at `falsePositiveRate`: m = −n·ln p / (ln 2)², k = (m/n)·ln 2. */
  static sizeFor(capacity: number, falsePositiveRate: number): BloomFilterSize {
    if (!(capacity >= 1) || !Number.isFinite(capacity)) throw new RangeError(`capacity must be a positive number, not ${capacity}`);
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) throw new RangeError(`falsePositiveRate must be in (0, 1), not ${falsePositiveRate}`);
    const bits = Math.max(64, Math.ceil((-capacity * Math.log(falsePositiveRate)) / Math.LN2 ** 2));
    const hashes = Math.max(1, Math.round((bits / capacity) * Math.LN2));
    return { bits, hashes, bytes: Math.ceil(bits / 8) };
  }

  /** Values added that were not (as far as the filter can tell) already present. */
  get count(): number {
    return this.#count;
  }

  get sizeBytes(): number {
    return this.#words.byteLength;
  }

  /** Adds a value; true if it was not already (maybe) present. */
  add(value: string): boolean {
    const words = this.#words;
    let added = false;
    this.#positions(value);
    for (let i = 0; i < this.hashes; i++) {
      const bit = positions[i]!;
      const byte = Math.floor(bit / 8);
      const mask = 1 << (bit & 7);
      if ((words[byte]! & mask) === 0) {
        words[byte] = words[byte]! | mask;
        added = true;
      }
    }
    if (added) this.#count++;
    return added;
  }

  /** False: certainly never added. True: added, or a false positive (rate ≤ the configured one at capacity). */
  has(value: string): boolean {
    const words = this.#words;
    this.#positions(value);
    for (let i = 0; i < this.hashes; i++) {
      const bit = positions[i]!;
      if ((words[Math.floor(bit / 8)]! & (1 << (bit & 7))) === 0) return false;
    }
    return true;
  }

  /** The filter's bits, to carry a filter filled in parts to one process (see unionWith). */
  toBytes(): Uint8Array {
    return this.#words;
  }

  /** Adds every value of another filter of the same size and salt, given by its toBytes(). */
  unionWith(bytes: Uint8Array, count: number): void {
    if (bytes.byteLength !== this.#words.byteLength) {
      throw new RangeError(`cannot merge a Bloom filter of ${bytes.byteLength} bytes into one of ${this.#words.byteLength}`);
    }
    for (let i = 0; i < bytes.byteLength; i++) this.#words[i] = this.#words[i]! | bytes[i]!;
    this.#count += count;
  }

  /** The k bit positions of a value, into the shared `positions`. */
  #positions(value: string): void {
    const m = this.bits;
    // two independent 53-bit values; all arithmetic stays below 2^53
    let index = hash53(value, this.#seedA) % m;
    let step = hash53(value, this.#seedB) % m;
    if (positions.length < this.hashes) positions = new Float64Array(this.hashes);
    for (let i = 0; i < this.hashes; i++) {
      positions[i] = index;
      index = (index + step) % m;
      step = (step + i + 1) % m;
    }
  }
}

/**
 * A 53-bit string hash with two 32-bit lanes multiplied per UTF-16 unit and a
 * final avalanche (the well-known "cyrb53" construction): fast in JS, and well
 * enough spread for Bloom probes, as the false-positive test measures.
 */
function hash53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
