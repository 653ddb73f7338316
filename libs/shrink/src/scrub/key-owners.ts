import { ShrinkError } from "../errors.ts";
import { appendBatch, recordBatches, SortedRecordsWriter, type SortedRecords } from "../spill/sorted-records.ts";
import { Fingerprinter, fingerprintWords } from "./fingerprinter.ts";

const recordWords = 2 * fingerprintWords;

/**
 * Which original primary key each rewritten primary key came from: two distinct
 * rows whose keys became one would silently merge, so the shrink fails when a
 * key is claimed by two. (Two rows may share a partition key's pseudonym, say
 * one phone number typed two ways, and stay two rows: only the whole key
 * counts.) Claims are keyed 128-bit fingerprints of (table, key) → original,
 * sorted and merged on disk
 * (see SortedRecordsWriter): fixed memory whatever the number of keys, and no
 * original value kept in clear. The check runs when the claims are sealed, at
 * the end of the first pass, before anything is published. A false alarm or a
 * missed collision needs two 128-bit fingerprints to meet: about 2^-127 a pair.
 */
export class KeyOwners {
  readonly #owners: Fingerprinter;
  readonly #originals: Fingerprinter;
  readonly #writer: SortedRecordsWriter;
  readonly #scratch = new Uint32Array(recordWords);
  #sealed: SortedRecords | undefined;

  /** The pseudonym secret: fingerprints of another secret never match these. */
  constructor(secret: Uint8Array, dir: string, options: { bufferRecords?: number } = {}) {
    this.#owners = new Fingerprinter(secret, "key-owners/owner");
    this.#originals = new Fingerprinter(secret, "key-owners/original");
    // claims are only merged, never looked up: no prefilter worth its memory
    this.#writer = new SortedRecordsWriter({ dir, name: "key-owners", recordWords, keyWords: fingerprintWords, maxPrefilterBytes: 8, ...options }, (kept, other) => {
      for (let w = fingerprintWords; w < recordWords; w++) {
        if (kept[w] !== other[w]) {
          throw new ShrinkError("failed", "pseudonym collision in a primary key: two distinct rows of the source would become one row");
        }
      }
    });
  }

  /** Distinct (table, key) claims, once sealed. */
  get size(): number {
    return this.#sealed?.size ?? 0;
  }

  get byteLength(): number {
    return this.#sealed?.byteLength ?? 2 * recordWords * 4 * 32_768;
  }

  /**
   * Records that primary key `key` of `table` (after the transforms) stands for
   * `original`. Both are compared as given, e.g. as JSON of the key's cells.
   */
  claim(table: string, key: string, original: string): void {
    this.#owners.write(`${table}\u0000${key}`, this.#scratch, 0);
    this.#originals.write(original, this.#scratch, fingerprintWords);
    this.#writer.append(this.#scratch);
  }

  /** Checks every claim: throws when a pseudonym stands for two values. */
  seal(): void {
    this.#sealed ??= this.#writer.seal();
  }

  /** The claims in batches, to merge the claims of a shrink done in parts (see addBatch). */
  batches(): Generator<string> {
    this.seal();
    return recordBatches(this.#sealed!, recordWords);
  }

  /** Adds a batch of another instance's batches() under the same secret; a collision across parts fails the seal as any other. */
  addBatch(base64: string): void {
    appendBatch(this.#writer, base64, recordWords);
  }

  close(): void {
    this.#sealed?.close();
    this.#sealed = undefined;
    this.#writer.discard();
  }
}
