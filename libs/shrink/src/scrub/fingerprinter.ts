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
