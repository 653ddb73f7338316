import { appendBatch, recordBatches, SortedRecordsWriter, type SortedRecords } from "./sorted-records.ts";

export interface FingerprintSetOptions {
  /** Directory for its files (a staging directory). */
  dir: string;
  /** File-name prefix, unique in the directory. */
  name: string;
  /** 2 (64-bit fingerprints) or 4 (128-bit). */
  words: 2 | 4;
  bufferRecords?: number;
  /** See SortedRecordsOptions. */
  maxPrefilterBytes?: number;
}

// recently added fingerprints: a value met again and again is written once
const recentSlots = 1 << 13;

/**
 * A set of fingerprints (keyed hashes, evenly spread) that is filled first and
 * asked after: added ones go to sorted runs on disk, seal() merges them, and
 * has() answers from the prefilter or one read of a block. Memory is fixed
 * while filling, 4 to 8 bytes a fingerprint after.
 */
export class FingerprintSet {
  readonly #words: number;
  readonly #writer: SortedRecordsWriter;
  readonly #recent: Uint32Array;
  #sealed: SortedRecords | undefined;

  constructor(options: FingerprintSetOptions) {
    this.#words = options.words;
    this.#writer = new SortedRecordsWriter({
      dir: options.dir,
      name: options.name,
      recordWords: options.words,
      keyWords: options.words,
      ...(options.bufferRecords ? { bufferRecords: options.bufferRecords } : {}),
      ...(options.maxPrefilterBytes ? { maxPrefilterBytes: options.maxPrefilterBytes } : {}),
    });
    this.#recent = new Uint32Array(recentSlots * options.words);
  }

  /** Distinct fingerprints, once sealed; 0 before. */
  get size(): number {
    return this.#sealed?.size ?? 0;
  }

  get sealed(): boolean {
    return this.#sealed !== undefined;
  }

  /** Bytes held in memory. */
  get byteLength(): number {
    return this.#recent.byteLength + (this.#sealed?.byteLength ?? 2 * this.#words * 4 * 32_768);
  }

  /** Adds the fingerprint at key[at … at + words). */
  add(key: Uint32Array, at = 0): void {
    const w = this.#words;
    const slot = (key[at]! & (recentSlots - 1)) * w;
    let same = true;
    for (let i = 0; i < w; i++) same &&= this.#recent[slot + i] === key[at + i];
    if (same) return;
    for (let i = 0; i < w; i++) this.#recent[slot + i] = key[at + i]!;
    this.#writer.append(key, at);
  }

  /** Merges what was added; has() answers from then on, add() throws. */
  seal(): void {
    this.#sealed ??= this.#writer.seal();
  }

  has(key: Uint32Array, at = 0): boolean {
    if (!this.#sealed) throw new Error("a fingerprint set is asked before it is sealed");
    return this.#sealed.find(key, at) !== undefined;
  }

  /** The fingerprints in batches of up to `batch`, as base64 of their words: a set done in parts merges them with addBatch. */
  batches(): Generator<string> {
    this.seal();
    return recordBatches(this.#sealed!, this.#words);
  }

  /** Adds a batch of another set's batches(). */
  addBatch(base64: string): void {
    appendBatch(this.#writer, base64, this.#words);
  }

  close(): void {
    this.#sealed?.close();
    this.#sealed = undefined;
    this.#writer.discard();
  }
}
