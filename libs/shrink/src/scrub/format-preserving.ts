import { sipHash24, sipHash53, type SipKey } from "./siphash.ts";

/**
 * Keyed permutations (Feistel networks) over digit strings and fixed-width
 * integers. A permutation never maps two inputs to one output, so pseudonymised
 * phone numbers and integer keys cannot merge rows, whatever the data.
 * Round function: SipHash-2-4 under a key derived from the secret.
 */

// FF1 uses 10 rounds for its alternating Feistel over digit strings; so do we.
const DIGIT_ROUNDS = 10;
// Halves of up to 15 digits stay exact in a double; longer strings take the BigInt path.
const MAX_NUMBER_DIGITS = 30;
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);
const TWO32 = 0x100000000;

/** A permutation of the digit strings of each length L ≥ 2 (all 10^L of them, leading zeros included). */
export class DigitPermutation {
  readonly #key: SipKey;

  constructor(key: SipKey) {
    this.#key = key;
  }

  permute(digits: string): string {
    return this.#run(digits, true);
  }

  invert(digits: string): string {
    return this.#run(digits, false);
  }

  #run(digits: string, forward: boolean): string {
    if (!/^\d{2,}$/.test(digits)) throw new RangeError("DigitPermutation works on strings of two or more ASCII digits");
    return digits.length <= MAX_NUMBER_DIGITS ? this.#small(digits, forward) : this.#big(digits, forward);
  }

  // Alternating (unbalanced) Feistel as in NIST SP 800-38G FF1: halves of u and v digits.
  #small(digits: string, forward: boolean): string {
    const n = digits.length;
    const u = n >> 1;
    const v = n - u;
    let a = Number(digits.slice(0, u));
    let b = Number(digits.slice(u));
    if (forward) {
      for (let i = 0; i < DIGIT_ROUNDS; i++) {
        const modulus = POW10[i % 2 === 0 ? u : v]!;
        const c = (a + this.#round(i, n, b, modulus)) % modulus;
        a = b;
        b = c;
      }
    } else {
      for (let i = DIGIT_ROUNDS - 1; i >= 0; i--) {
        const modulus = POW10[i % 2 === 0 ? u : v]!;
        const c = b;
        b = a;
        a = (((c - this.#round(i, n, b, modulus)) % modulus) + modulus) % modulus;
      }
    }
    return String(a).padStart(u, "0") + String(b).padStart(v, "0");
  }

  #round(i: number, n: number, b: number, modulus: number): number {
    // the length is in the tweak so each length gets its own permutation
    return sipHash53(this.#key, (0xd1000000 | (n << 8) | i) >>> 0, 0, b % TWO32, Math.floor(b / TWO32)) % modulus;
  }

  #big(digits: string, forward: boolean): string {
    const n = digits.length;
    const u = n >> 1;
    const v = n - u;
    let a = BigInt(digits.slice(0, u));
    let b = BigInt(digits.slice(u));
    const mu = 10n ** BigInt(u);
    const mv = 10n ** BigInt(v);
    if (forward) {
      for (let i = 0; i < DIGIT_ROUNDS; i++) {
        const modulus = i % 2 === 0 ? mu : mv;
        const c = (a + this.#bigRound(i, n, b, modulus)) % modulus;
        a = b;
        b = c;
      }
    } else {
      for (let i = DIGIT_ROUNDS - 1; i >= 0; i--) {
        const modulus = i % 2 === 0 ? mu : mv;
        const c = b;
        b = a;
        a = (((c - this.#bigRound(i, n, b, modulus)) % modulus) + modulus) % modulus;
      }
    }
    return a.toString().padStart(u, "0") + b.toString().padStart(v, "0");
  }

  #bigRound(i: number, n: number, b: bigint, modulus: bigint): bigint {
    // enough 64-bit blocks to cover the modulus with 64 bits to spare
    const blocks = Math.ceil((modulus.toString(2).length + 64) / 64);
    const encoder = new TextEncoder();
    let acc = 0n;
    for (let j = 0; j < blocks; j++) acc = (acc << 64n) | sipHash24(this.#key, encoder.encode(`digits:${i}:${n}:${j}:${b}`));
    return acc % modulus;
  }
}

const INTEGER_ROUNDS = 8;

/** A permutation of [0, 2^bits) for bits in 8, 16, 32, 64: a balanced Feistel over two halves. */
export class IntegerPermutation {
  readonly #key: SipKey;
  readonly #bits: number;
  readonly #half: number;
  readonly #halfModulus: number;

  constructor(key: SipKey, bits: 8 | 16 | 32 | 64) {
    this.#key = key;
    this.#bits = bits;
    this.#half = bits / 2;
    this.#halfModulus = 2 ** this.#half;
  }

  permute(value: bigint): bigint {
    let [l, r] = this.#split(value);
    for (let i = 0; i < INTEGER_ROUNDS; i++) {
      const next = (l ^ this.#round(i, r)) >>> 0;
      l = r;
      r = next;
    }
    return this.#join(l, r);
  }

  invert(value: bigint): bigint {
    let [l, r] = this.#split(value);
    for (let i = INTEGER_ROUNDS - 1; i >= 0; i--) {
      const previous = (r ^ this.#round(i, l)) >>> 0;
      r = l;
      l = previous;
    }
    return this.#join(l, r);
  }

  #round(i: number, half: number): number {
    return sipHash53(this.#key, (0xb1000000 | (this.#bits << 8) | i) >>> 0, 0, half, 0) % this.#halfModulus;
  }

  #split(value: bigint): [number, number] {
    if (value < 0n || value >= 1n << BigInt(this.#bits)) throw new RangeError(`${value} is outside [0, 2^${this.#bits})`);
    const half = BigInt(this.#half);
    return [Number(value >> half), Number(value & ((1n << half) - 1n))];
  }

  #join(l: number, r: number): bigint {
    return (BigInt(l) << BigInt(this.#half)) | BigInt(r);
  }
}
