import { randomBytes } from "node:crypto";
import { fingerprint64 } from "../scrub/fingerprint64.ts";
import { compareKeys, radixSort } from "../spill/sorted-records.ts";

const words = 4;

/**
 * The keys of a lookup table's rows whose organisation is kept (say the ids of
 * the kept leads, for notes that name only their lead), as 128-bit fingerprints
 * under seeds drawn for this shrink, sorted: 16 bytes a key, where a Set of
 * UUID strings takes about 100 in the JS heap. Filled, then frozen, then asked.
 */
export class KeySet {
  readonly #seeds: Uint32Array;
  #keys = new Uint32Array(words * 1024);
  #size = 0;
  #frozen = false;
  readonly #scratch = new Uint32Array(words);
  readonly #hash = new Uint32Array(2);

  constructor(seeds: Uint32Array = new Uint32Array(randomBytes(16).buffer, 0, 4)) {
    this.#seeds = Uint32Array.from(seeds);
  }

  get size(): number {
    return this.#size;
  }

  add(key: string): void {
    if (this.#frozen) throw new Error("a key set is added to after it was frozen");
    if ((this.#size + 1) * words > this.#keys.length) {
      const grown = new Uint32Array(this.#keys.length * 2);
      grown.set(this.#keys);
      this.#keys = grown;
    }
    this.#fingerprint(key, this.#keys, this.#size * words);
    this.#size++;
  }

  /** Sorts the keys and drops repeats; has() answers from then on. */
  freeze(): this {
    if (this.#frozen) return this;
    this.#frozen = true;
    const sorted = radixSort(this.#keys, new Uint32Array(this.#keys.length), this.#size, words, words);
    let unique = 0;
    for (let i = 0; i < this.#size; i++) {
      if (unique > 0 && compareKeys(sorted, i * words, sorted, (unique - 1) * words, words) === 0) continue;
      sorted.copyWithin(unique * words, i * words, (i + 1) * words);
      unique++;
    }
    this.#keys = sorted.slice(0, unique * words);
    this.#size = unique;
    return this;
  }

  has(key: string): boolean {
    if (!this.#frozen) throw new Error("a key set is asked before it was frozen");
    this.#fingerprint(key, this.#scratch, 0);
    let lo = 0;
    let hi = this.#size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys(this.#keys, mid * words, this.#scratch, 0, words);
      if (c === 0) return true;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** Seeds and fingerprints as base64 (little-endian words), to hand the set to a shrink's parts. */
  toBase64(): string {
    this.freeze();
    const out = Buffer.alloc((words + this.#size * words) * 4);
    this.#seeds.forEach((w, i) => out.writeUInt32LE(w, i * 4));
    for (let i = 0; i < this.#size * words; i++) out.writeUInt32LE(this.#keys[i]!, (words + i) * 4);
    return out.toString("base64");
  }

  static fromBase64(base64: string): KeySet {
    const bytes = Buffer.from(base64, "base64");
    if (bytes.length < words * 4 || bytes.length % (words * 4) !== 0) throw new RangeError("not a key set");
    const all = new Uint32Array(bytes.length / 4);
    for (let i = 0; i < all.length; i++) all[i] = bytes.readUInt32LE(i * 4);
    const set = new KeySet(all.subarray(0, words));
    set.#keys = all.slice(words);
    set.#size = set.#keys.length / words;
    set.#frozen = true;
    return set;
  }

  #fingerprint(key: string, out: Uint32Array, at: number): void {
    const seeds = this.#seeds;
    const hash = this.#hash;
    fingerprint64(key, seeds[0]!, seeds[1]!, hash);
    out[at] = hash[0]!;
    out[at + 1] = hash[1]!;
    fingerprint64(key, seeds[2]!, seeds[3]!, hash);
    out[at + 2] = hash[0]!;
    out[at + 3] = hash[1]!;
  }
}
