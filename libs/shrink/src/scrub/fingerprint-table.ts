import { createHmac, hash } from "node:crypto";

/** Words (32-bit) of a fingerprint: 128 bits. */
export const fingerprintWords = 4;

/**
 * A keyed 128-bit fingerprint of strings: SHA-256 over a prefix derived from
 * the secret and the string, cut to 128 bits (one bit forced, so no fingerprint
 * is all zeros). Two distinct strings share one with probability 2^-127, and
 * without the secret nobody can pick strings that do. A one-shot hash: an HMAC
 * object per value costs ten times more.
 */
export class Fingerprinter {
  readonly #prefix: string;

  constructor(secret: Uint8Array, purpose: string) {
    if (secret.length < 16) throw new RangeError("a fingerprint key needs at least 16 bytes of secret");
    this.#prefix = createHmac("sha256", secret).update(`devenv/fingerprints/v1/${purpose}`).digest("base64");
  }

  /** Writes the fingerprint of `value` to out[at] … out[at + 3]. */
  write(value: string, out: Uint32Array, at: number): void {
    const digest = hash("sha256", this.#prefix + value, "buffer");
    out[at] = (digest.readUInt32LE(0) | 1) >>> 0;
    out[at + 1] = digest.readUInt32LE(4);
    out[at + 2] = digest.readUInt32LE(8);
    out[at + 3] = digest.readUInt32LE(12);
  }
}

/** Writes a fingerprint given as 32 hex digits (see FingerprintTable.hex) to out[at] … out[at + 3]. */
export function fingerprintFromHex(hex: string, out: Uint32Array, at: number): void {
  const bytes = /^[0-9a-f]{32}$/.test(hex) ? Buffer.from(hex, "hex") : undefined;
  if (!bytes || (bytes[0]! & 1) === 0) throw new RangeError(`not a fingerprint: "${hex.slice(0, 40)}"`);
  for (let w = 0; w < fingerprintWords; w++) out[at + w] = bytes.readUInt32LE(w * 4);
}

/**
 * Fingerprints (and, for a map, one fingerprint-sized value each) in one
 * open-addressing table of 32-bit words, at most 70 % full: 23 to 46 bytes an
 * entry for a set, where a Set of short strings takes 80 to 120 in the JS heap.
 */
export class FingerprintTable {
  readonly #slotWords: number;
  #slots: Uint32Array;
  #size = 0;

  /** valueWords: 0 for a set, fingerprintWords for a map of fingerprints to fingerprints. */
  constructor(valueWords: 0 | typeof fingerprintWords, initialSlots = 1024) {
    this.#slotWords = fingerprintWords + valueWords;
    this.#slots = new Uint32Array(powerOfTwoAtLeast(initialSlots) * this.#slotWords);
  }

  get size(): number {
    return this.#size;
  }

  get byteLength(): number {
    return this.#slots.byteLength;
  }

  /** The slot holding the fingerprint at key[at], or -1. */
  find(key: Uint32Array, at: number): number {
    const slot = this.#probe(this.#slots, key, at);
    return this.#slots[slot * this.#slotWords] === 0 ? -1 : slot;
  }

  /** Adds a fingerprint (with its value, for a map); false when it is already there (its value is left as it was). */
  add(key: Uint32Array, at: number, value?: Uint32Array, valueAt = 0): boolean {
    const slot = this.#probe(this.#slots, key, at);
    const base = slot * this.#slotWords;
    if (this.#slots[base] !== 0) return false;
    this.#slots.set(key.subarray(at, at + fingerprintWords), base);
    if (value && this.#slotWords > fingerprintWords) this.#slots.set(value.subarray(valueAt, valueAt + fingerprintWords), base + fingerprintWords);
    this.#size++;
    if (this.#size * 10 > (this.#slots.length / this.#slotWords) * 7) this.#grow();
    return true;
  }

  /** Whether the value stored in `slot` equals the fingerprint at value[at]. */
  valueEquals(slot: number, value: Uint32Array, at: number): boolean {
    const base = slot * this.#slotWords + fingerprintWords;
    for (let w = 0; w < fingerprintWords; w++) if (this.#slots[base + w] !== value[at + w]) return false;
    return true;
  }

  /** Every entry as 32 hex digits (key, then value for a map), to carry a table to another process. */
  *hex(): Generator<[string, string | undefined]> {
    const slots = this.#slots;
    for (let base = 0; base < slots.length; base += this.#slotWords) {
      if (slots[base] === 0) continue;
      yield [toHex(slots, base), this.#slotWords > fingerprintWords ? toHex(slots, base + fingerprintWords) : undefined];
    }
  }

  // linear probing from the fingerprint's first word: it is already uniformly random
  #probe(slots: Uint32Array, key: Uint32Array, at: number): number {
    const mask = slots.length / this.#slotWords - 1;
    for (let slot = key[at]! & mask; ; slot = (slot + 1) & mask) {
      const base = slot * this.#slotWords;
      if (slots[base] === 0) return slot;
      if (slots[base] === key[at] && slots[base + 1] === key[at + 1] && slots[base + 2] === key[at + 2] && slots[base + 3] === key[at + 3]) return slot;
    }
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Uint32Array(old.length * 2);
    for (let base = 0; base < old.length; base += this.#slotWords) {
      if (old[base] === 0) continue;
      slots.set(old.subarray(base, base + this.#slotWords), this.#probe(slots, old, base) * this.#slotWords);
    }
    this.#slots = slots;
  }
}

function toHex(words: Uint32Array, at: number): string {
  const bytes = Buffer.alloc(fingerprintWords * 4);
  for (let w = 0; w < fingerprintWords; w++) bytes.writeUInt32LE(words[at + w]!, w * 4);
  return bytes.toString("hex");
}

function powerOfTwoAtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}
