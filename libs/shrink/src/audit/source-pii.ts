import { createHmac } from "node:crypto";
import { FingerprintSet } from "../spill/fingerprint-set.ts";
import { fingerprint64 } from "../scrub/fingerprint64.ts";

/**
 * Every source PII value the shrink met (normalised audit keys, see
 * auditKeysOf), kept and dropped alike, for the audit: none may appear in the
 * output. Held as keyed 64-bit fingerprints on disk (see FingerprintSet):
 * memory is fixed while the first pass adds, and 4 to 8 bytes a value while the
 * audit asks. Exact up to a fingerprint collision: with ten million values and
 * a hundred million probes, about one run in twenty thousand reports a leak
 * that is not there, and a value present is never missed.
 */
export class SourcePii {
  readonly #set: FingerprintSet;
  readonly #seedA: number;
  readonly #seedB: number;
  readonly #scratch = new Uint32Array(2);

  constructor(options: { secret: Uint8Array; dir: string; bufferRecords?: number }) {
    this.#set = new FingerprintSet({ dir: options.dir, name: "source-pii", words: 2, ...(options.bufferRecords ? { bufferRecords: options.bufferRecords } : {}) });
    const seeds = createHmac("sha256", options.secret).update("devenv/source-pii/v1").digest();
    this.#seedA = seeds.readUInt32LE(0);
    this.#seedB = seeds.readUInt32LE(4);
  }

  /** Distinct values, once sealed. */
  get size(): number {
    return this.#set.size;
  }

  get byteLength(): number {
    return this.#set.byteLength;
  }

  add(key: string): void {
    fingerprint64(key, this.#seedA, this.#seedB, this.#scratch);
    this.#set.add(this.#scratch);
  }

  /** Ends the adding; has() answers from then on. */
  seal(): void {
    this.#set.seal();
  }

  has(key: string): boolean {
    fingerprint64(key, this.#seedA, this.#seedB, this.#scratch);
    return this.#set.has(this.#scratch);
  }

  /** The values as batches of fingerprints, to merge the sets of a shrink done in parts (see addBatch). */
  batches(): Generator<string> {
    return this.#set.batches();
  }

  addBatch(base64: string): void {
    this.#set.addBatch(base64);
  }

  close(): void {
    this.#set.close();
  }
}
