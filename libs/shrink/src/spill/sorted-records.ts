import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";

export interface SortedRecordsOptions {
  /** Directory for run files and the sealed file (a staging directory). */
  dir: string;
  /** File-name prefix, unique in the directory. */
  name: string;
  recordWords: number;
  /** The key: the first words of a record, compared as unsigned, first word first. Keys are fingerprints: evenly spread. */
  keyWords: number;
  /** Records buffered before a sorted run is written: memory is twice this times the record's size. Default 32,768. */
  bufferRecords?: number;
  /**
   * Most bytes of the sealed file's prefilter. Default 4 MiB (some 500,000 keys at full
   * strength); past it, absent keys cost a read more often, and memory stays put.
   */
  maxPrefilterBytes?: number;
}

/** Two records of one key: `kept` stays (it may be changed in place), `other` goes. Throwing fails the merge. */
export type MergeDuplicate = (kept: Uint32Array, other: Uint32Array) => void;

// records a block of the sealed file (4 KiB at 8 words a record): one read finds a key in it
const blockRecords = 128;
// runs merged at once; more are merged in rounds
const fanIn = 32;
const readBufferRecords = 2048;
const prefilterProbes = 6;

/**
 * Fixed-width records (32-bit words, the first `keyWords` of them the key)
 * collected in any number, sorted and merged on disk: memory holds one buffer
 * of records, whatever the data's size. Records of one key are merged into one
 * (see MergeDuplicate). The sealed result is looked up by key with one read of
 * a block, after an in-memory prefilter that answers most absent keys at once.
 *
 * The shrink's first pass uses it for everything it learns per value (known
 * PII values and their pseudonyms, source PII for the audit, its own outputs,
 * key owners): these grow with the data, and held in memory they made the
 * peak RSS grow with it.
 */
export class SortedRecordsWriter {
  readonly #options: Required<SortedRecordsOptions>;
  readonly #merge: MergeDuplicate;
  #buffer: Uint32Array;
  #scratch: Uint32Array;
  #buffered = 0;
  readonly #runs: { path: string; records: number }[] = [];
  #appended = 0;
  #runCounter = 0;
  #sealed = false;

  constructor(options: SortedRecordsOptions, merge: MergeDuplicate = () => {}) {
    if (!(options.keyWords >= 1 && options.keyWords <= options.recordWords)) throw new RangeError("keyWords must be between 1 and recordWords");
    this.#options = { bufferRecords: 32_768, maxPrefilterBytes: 4 << 20, ...options };
    this.#merge = merge;
    this.#buffer = new Uint32Array(this.#options.bufferRecords * options.recordWords);
    this.#scratch = new Uint32Array(this.#buffer.length);
  }

  /** Records appended so far (duplicates included). */
  get appended(): number {
    return this.#appended;
  }

  /** Copies record[at … at + recordWords) in. */
  append(record: Uint32Array, at = 0): void {
    if (this.#sealed) throw new Error(`${this.#options.name}: sealed, no more records`);
    const w = this.#options.recordWords;
    const to = this.#buffered * w;
    // a loop, not set(subarray): no view allocated per record
    for (let i = 0; i < w; i++) this.#buffer[to + i] = record[at + i]!;
    this.#appended++;
    if (++this.#buffered === this.#options.bufferRecords) this.#spill();
  }

  /** Merges every run into the sorted, duplicate-free file and opens it for lookups. */
  seal(): SortedRecords {
    if (this.#sealed) throw new Error(`${this.#options.name}: sealed twice`);
    this.#sealed = true;
    const { dir, name, recordWords, keyWords, maxPrefilterBytes } = this.#options;
    const path = join(dir, `${name}.sorted`);
    const upperBound = this.#runs.reduce((n, r) => n + r.records, 0) + this.#buffered;
    const out = new SealedFileBuilder(path, recordWords, keyWords, upperBound, maxPrefilterBytes);
    try {
      if (this.#runs.length === 0) {
        // everything fits the buffer: no run files at all
        const sorted = this.#sortBuffer();
        this.#forEachMerged(sortedRecords(sorted, this.#buffered, recordWords), (r) => out.add(r));
      } else {
        if (this.#buffered > 0) this.#spill();
        while (this.#runs.length > fanIn) this.#mergeRound();
        this.#forEachMerged(mergedRuns(this.#runs, recordWords, keyWords), (r) => out.add(r));
      }
      return out.finish();
    } catch (error) {
      out.abandon();
      throw error;
    } finally {
      for (const run of this.#runs) rmSync(run.path, { force: true });
      this.#runs.length = 0;
      this.#buffer = new Uint32Array(0);
      this.#scratch = new Uint32Array(0);
    }
  }

  /** Removes the run files (a failed run); the writer is unusable after. */
  discard(): void {
    this.#sealed = true;
    for (const run of this.#runs) rmSync(run.path, { force: true });
    this.#runs.length = 0;
  }

  #spill(): void {
    const { dir, name, recordWords } = this.#options;
    const sorted = this.#sortBuffer();
    const run = { path: join(dir, `${name}.run${this.#runCounter++}`), records: 0 };
    const writer = new RecordFileWriter(run.path, recordWords);
    this.#forEachMerged(sortedRecords(sorted, this.#buffered, recordWords), (r) => writer.write(r));
    run.records = writer.close();
    this.#runs.push(run);
    this.#buffered = 0;
  }

  // merges the oldest fanIn runs into one, so a merge never has more files open than that
  #mergeRound(): void {
    const { dir, name, recordWords, keyWords } = this.#options;
    const group = this.#runs.splice(0, fanIn);
    const run = { path: join(dir, `${name}.run${this.#runCounter++}`), records: 0 };
    const writer = new RecordFileWriter(run.path, recordWords);
    this.#forEachMerged(mergedRuns(group, recordWords, keyWords), (r) => writer.write(r));
    run.records = writer.close();
    for (const old of group) rmSync(old.path, { force: true });
    this.#runs.push(run);
  }

  #sortBuffer(): Uint32Array {
    const { recordWords, keyWords } = this.#options;
    const sorted = radixSort(this.#buffer, this.#scratch, this.#buffered, recordWords, keyWords);
    // the buffer is whichever array did not end up holding the sorted records
    if (sorted !== this.#buffer) [this.#buffer, this.#scratch] = [this.#scratch, this.#buffer];
    return this.#buffer;
  }

  /** Sorted records in, one record per key out (duplicates merged into the first). */
  #forEachMerged(records: Iterable<Uint32Array>, emit: (record: Uint32Array) => void): void {
    const { recordWords, keyWords } = this.#options;
    const current = new Uint32Array(recordWords);
    let has = false;
    for (const record of records) {
      if (has && compareKeys(current, 0, record, 0, keyWords) === 0) {
        this.#merge(current, record);
        continue;
      }
      if (has) emit(current);
      current.set(record);
      has = true;
    }
    if (has) emit(current);
  }
}

/** A sealed, sorted, duplicate-free record file: lookups by key, and a pass over every record in key order. */
export class SortedRecords {
  readonly path: string;
  readonly size: number;
  readonly #recordWords: number;
  readonly #keyWords: number;
  // the key of each block's first record
  readonly #index: Uint32Array;
  readonly #prefilter: Uint32Array;
  readonly #prefilterMask: number;
  readonly #block: Uint32Array;
  readonly #record: Uint32Array;
  #fd: number | undefined;

  constructor(path: string, size: number, recordWords: number, keyWords: number, index: Uint32Array, prefilter: Uint32Array) {
    this.path = path;
    this.size = size;
    this.#recordWords = recordWords;
    this.#keyWords = keyWords;
    this.#index = index;
    this.#prefilter = prefilter;
    this.#prefilterMask = prefilter.length * 32 - 1;
    this.#block = new Uint32Array(blockRecords * recordWords);
    this.#record = new Uint32Array(recordWords);
    this.#fd = openSync(path, "r");
  }

  /** Bytes held in memory (index, prefilter, one block). */
  get byteLength(): number {
    return this.#index.byteLength + this.#prefilter.byteLength + this.#block.byteLength;
  }

  /**
   * The prefilter's bits and mask, for a caller that asks in a hot loop: a key
   * whose bit (key[0] & mask) is clear is certainly absent, without a call.
   */
  get prefilterBits(): { bits: Uint32Array; mask: number } {
    return { bits: this.#prefilter, mask: this.#prefilterMask };
  }

  /** Whether the prefilter lets the key through (false: certainly absent). Cheap: no read. */
  mayHave(key: Uint32Array, at = 0): boolean {
    if (this.size === 0) return false;
    const filter = this.#prefilter;
    const mask = this.#prefilterMask;
    const h1 = key[at]!;
    const h2 = (this.#keyWords > 1 ? key[at + 1]! : key[at]! >>> 16) | 1;
    for (let i = 0; i < prefilterProbes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & mask;
      if ((filter[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }

  /** The record with this key (a view valid until the next lookup), or undefined. */
  find(key: Uint32Array, at = 0): Uint32Array | undefined {
    if (!this.mayHave(key, at)) return undefined;
    const k = this.#keyWords;
    const index = this.#index;
    // last block whose first key is <= key
    let lo = 0;
    let hi = index.length / k - 1;
    if (compareKeys(index, 0, key, at, k) > 0) return undefined;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (compareKeys(index, mid * k, key, at, k) <= 0) lo = mid;
      else hi = mid - 1;
    }
    const w = this.#recordWords;
    const records = Math.min(blockRecords, this.size - lo * blockRecords);
    this.#read(lo * blockRecords, records);
    let a = 0;
    let b = records - 1;
    while (a <= b) {
      const mid = (a + b) >>> 1;
      const c = compareKeys(this.#block, mid * w, key, at, k);
      if (c === 0) {
        this.#record.set(this.#block.subarray(mid * w, mid * w + w));
        return this.#record;
      }
      if (c < 0) a = mid + 1;
      else b = mid - 1;
    }
    return undefined;
  }

  /** Every record in key order (each a view valid until the next). */
  *records(): Generator<Uint32Array> {
    const w = this.#recordWords;
    for (let first = 0; first < this.size; first += blockRecords) {
      const records = Math.min(blockRecords, this.size - first);
      this.#read(first, records);
      for (let r = 0; r < records; r++) {
        this.#record.set(this.#block.subarray(r * w, r * w + w));
        yield this.#record;
      }
    }
  }

  /** Closes and removes the file. */
  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    rmSync(this.path, { force: true });
  }

  #read(first: number, records: number): void {
    if (this.#fd === undefined) throw new Error(`${this.path}: closed`);
    const bytes = records * this.#recordWords * 4;
    const view = new Uint8Array(this.#block.buffer, 0, bytes);
    const got = readSync(this.#fd, view, 0, bytes, first * this.#recordWords * 4);
    if (got !== bytes) throw new Error(`${this.path}: short read (${got} of ${bytes} bytes)`);
  }
}

/** A sealed file's records in batches of up to `batch`, as base64 of their words (little-endian): to carry them to another process. */
export function* recordBatches(sealed: SortedRecords, recordWords: number, batch = 2048): Generator<string> {
  const words = new Uint32Array(batch * recordWords);
  let used = 0;
  for (const record of sealed.records()) {
    words.set(record, used);
    used += recordWords;
    if (used === words.length) {
      yield Buffer.from(words.buffer, 0, used * 4).toString("base64");
      used = 0;
    }
  }
  if (used > 0) yield Buffer.from(words.buffer, 0, used * 4).toString("base64");
}

/** Appends the records of one of recordBatches' batches. */
export function appendBatch(writer: SortedRecordsWriter, base64: string, recordWords: number): void {
  const bytes = Buffer.from(base64, "base64");
  if (bytes.length === 0 || bytes.length % (recordWords * 4) !== 0) throw new RangeError(`not a batch of ${recordWords}-word records`);
  const words = new Uint32Array(bytes.length / 4);
  for (let i = 0; i < words.length; i++) words[i] = bytes.readUInt32LE(i * 4);
  for (let at = 0; at < words.length; at += recordWords) writer.append(words, at);
}

/** Builds the sealed file: records in key order, the block index and the prefilter as they pass. */
class SealedFileBuilder {
  readonly #path: string;
  readonly #writer: RecordFileWriter;
  readonly #keyWords: number;
  #index: Uint32Array;
  readonly #prefilter: Uint32Array;
  readonly #mask: number;
  #count = 0;

  constructor(path: string, recordWords: number, keyWords: number, upperBound: number, maxPrefilterBytes: number) {
    this.#path = path;
    this.#writer = new RecordFileWriter(path, recordWords);
    this.#keyWords = keyWords;
    this.#index = new Uint32Array(Math.max(1, Math.ceil(upperBound / blockRecords)) * keyWords);
    // 32 to 64 bits a key (6 probes: about 3 in 100,000 absent keys get through; a search asks
    // for many more absent keys than present ones), a power of two of 32-bit words
    let words = 2;
    while (words * 32 < upperBound * 32 && words * 4 < maxPrefilterBytes) words *= 2;
    this.#prefilter = new Uint32Array(words);
    this.#mask = words * 32 - 1;
  }

  add(record: Uint32Array): void {
    const k = this.#keyWords;
    if (this.#count % blockRecords === 0) this.#index.set(record.subarray(0, k), (this.#count / blockRecords) * k);
    const h1 = record[0]!;
    const h2 = (k > 1 ? record[1]! : record[0]! >>> 16) | 1;
    for (let i = 0; i < prefilterProbes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.#mask;
      this.#prefilter[bit >>> 5]! |= 1 << (bit & 31);
    }
    this.#writer.write(record);
    this.#count++;
  }

  finish(): SortedRecords {
    this.#writer.close();
    const blocks = Math.ceil(this.#count / blockRecords);
    const index = this.#index.slice(0, blocks * this.#keyWords);
    return new SortedRecords(this.#path, this.#count, this.#writer.recordWords, this.#keyWords, index, this.#prefilter);
  }

  abandon(): void {
    this.#writer.abandon();
  }
}

/** Appends records to a file through a buffer. */
class RecordFileWriter {
  readonly recordWords: number;
  readonly #path: string;
  readonly #fd: number;
  readonly #buffer = new Uint32Array(16_384);
  #used = 0;
  #records = 0;

  constructor(path: string, recordWords: number) {
    this.#path = path;
    this.recordWords = recordWords;
    this.#fd = openSync(path, "w");
  }

  write(record: Uint32Array): void {
    if (this.#used + this.recordWords > this.#buffer.length) this.#flush();
    this.#buffer.set(record.subarray(0, this.recordWords), this.#used);
    this.#used += this.recordWords;
    this.#records++;
  }

  /** Flushes and closes; returns the records written. */
  close(): number {
    this.#flush();
    closeSync(this.#fd);
    return this.#records;
  }

  abandon(): void {
    closeSync(this.#fd);
    rmSync(this.#path, { force: true });
  }

  #flush(): void {
    if (this.#used === 0) return;
    const bytes = new Uint8Array(this.#buffer.buffer, 0, this.#used * 4);
    let written = 0;
    while (written < bytes.length) written += writeSync(this.#fd, bytes, written, bytes.length - written);
    this.#used = 0;
  }
}

function* sortedRecords(sorted: Uint32Array, count: number, recordWords: number): Generator<Uint32Array> {
  for (let r = 0; r < count; r++) yield sorted.subarray(r * recordWords, (r + 1) * recordWords);
}

/** A run file read through a buffer. */
class RunReader {
  readonly #fd: number;
  readonly #recordWords: number;
  readonly #buffer: Uint32Array;
  #remaining: number;
  #position = 0;
  #filled = 0;
  #at = 0;

  constructor(path: string, records: number, recordWords: number) {
    this.#fd = openSync(path, "r");
    this.#recordWords = recordWords;
    this.#remaining = records;
    this.#buffer = new Uint32Array(readBufferRecords * recordWords);
  }

  /** The current record's offset in `buffer`, or -1 at the end. */
  get at(): number {
    return this.#at < this.#filled ? this.#at : -1;
  }

  get buffer(): Uint32Array {
    return this.#buffer;
  }

  /** Moves to the next record (the first one on the first call); false at the end. */
  next(started: boolean): boolean {
    if (started) this.#at += this.#recordWords;
    if (this.#at < this.#filled) return true;
    if (this.#remaining === 0) {
      closeSync(this.#fd);
      return false;
    }
    const records = Math.min(readBufferRecords, this.#remaining);
    const bytes = records * this.#recordWords * 4;
    const got = readSync(this.#fd, new Uint8Array(this.#buffer.buffer, 0, bytes), 0, bytes, this.#position);
    if (got !== bytes) throw new Error(`short read of a run file (${got} of ${bytes} bytes)`);
    this.#position += bytes;
    this.#remaining -= records;
    this.#filled = records * this.#recordWords;
    this.#at = 0;
    return true;
  }
}

/** The records of sorted runs in key order (a k-way merge over a binary heap of the runs). */
function* mergedRuns(runs: readonly { path: string; records: number }[], recordWords: number, keyWords: number): Generator<Uint32Array> {
  const heap: RunReader[] = [];
  const less = (a: RunReader, b: RunReader) => compareKeys(a.buffer, a.at, b.buffer, b.at, keyWords) < 0;
  const siftDown = (from: number) => {
    for (let i = from; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && less(heap[l]!, heap[smallest]!)) smallest = l;
      if (r < heap.length && less(heap[r]!, heap[smallest]!)) smallest = r;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  };
  for (const run of runs) {
    const reader = new RunReader(run.path, run.records, recordWords);
    if (reader.next(false)) heap.push(reader);
  }
  for (let i = (heap.length >>> 1) - 1; i >= 0; i--) siftDown(i);
  while (heap.length > 0) {
    const top = heap[0]!;
    yield top.buffer.subarray(top.at, top.at + recordWords);
    if (!top.next(true)) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    if (heap.length > 0) siftDown(0);
  }
}

/** Unsigned comparison of keyWords words at a[at] and b[bt], first word first. */
export function compareKeys(a: Uint32Array, at: number, b: Uint32Array, bt: number, keyWords: number): number {
  for (let i = 0; i < keyWords; i++) {
    const x = a[at + i]!;
    const y = b[bt + i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Sorts `count` records of `src` by their key, least significant 16 bits first
 * (a stable counting sort per 16-bit digit); returns the array holding the result (src or dst).
 */
export function radixSort(src: Uint32Array, dst: Uint32Array, count: number, recordWords: number, keyWords: number): Uint32Array {
  const counts = new Uint32Array(65_537);
  let from = src;
  let to = dst;
  for (let word = keyWords - 1; word >= 0; word--) {
    for (let shift = 0; shift <= 16; shift += 16) {
      counts.fill(0);
      for (let r = 0; r < count; r++) counts[((from[r * recordWords + word]! >>> shift) & 0xffff) + 1]!++;
      for (let d = 1; d <= 65_536; d++) counts[d]! += counts[d - 1]!;
      for (let r = 0; r < count; r++) {
        const base = r * recordWords;
        const target = counts[(from[base + word]! >>> shift) & 0xffff]!++ * recordWords;
        for (let x = 0; x < recordWords; x++) to[target + x] = from[base + x]!;
      }
      [from, to] = [to, from];
    }
  }
  return from;
}
