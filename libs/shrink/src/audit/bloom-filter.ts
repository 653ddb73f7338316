import { hash } from "node:crypto";

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
 * Indexes come from one SHA-256 of the value by enhanced double hashing
 * (Dillinger & Manolios), so k probes cost one hash. With a salt (e.g. derived
 * from the pseudonym secret) the filter gives no help to anyone testing guesses.
 */
export class BloomFilter {
  readonly bits: number;
  readonly hashes: number;
  readonly #words: Uint8Array;
  readonly #salt: string;
  #count = 0;

  constructor(capacity: number, falsePositiveRate: number, options: { salt?: Uint8Array } = {}) {
    const size = BloomFilter.sizeFor(capacity, falsePositiveRate);
    this.bits = size.bits;
    this.hashes = size.hashes;
    this.#words = new Uint8Array(size.bytes);
    this.#salt = options.salt ? `${Buffer.from(options.salt).toString("hex")}\u0000` : "";
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

  /** The k bit positions of a value, into the shared `positions`. */
  #positions(value: string): void {
    const digest = hash("sha256", this.#salt + value, "buffer");
    const m = this.bits;
    // two independent 48-bit values; all arithmetic stays below 2^53
    let index = digest.readUIntLE(0, 6) % m;
    let step = digest.readUIntLE(6, 6) % m;
    if (positions.length < this.hashes) positions = new Float64Array(this.hashes);
    for (let i = 0; i < this.hashes; i++) {
      positions[i] = index;
      index = (index + step) % m;
      step = (step + i + 1) % m;
    }
  }
}
