import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SortedRecordsWriter, type SortedRecords } from "../spill/sorted-records.ts";
import { StringFile } from "../spill/string-file.ts";
import { foldCode, isWordCode, SKIP } from "./char-tables.ts";
import { fingerprint64, mixLanes } from "./fingerprint64.ts";
import { isPlausibleEmail, isPlausiblePhone } from "./normalize.ts";

export type KnownValueKind = "email" | "phone" | "person" | "company" | "address";

export interface KnownValueMatch {
  kind: KnownValueKind;
  /** Position of the occurrence in the searched text (end exclusive). */
  start: number;
  end: number;
  replacement: string;
}

export interface KnownValuesOptions {
  /** Values shorter than this (after folding) are ignored: too likely to be ordinary words. Default 3. Longer than 256: ignored too. */
  minLength?: number;
  /** Keys the values' fingerprints (the pseudonym secret): without it nobody can pick texts whose fingerprints meet. */
  secret?: Uint8Array;
  /** Directory for the values' files (a staging directory); default a temporary one, removed by close(). */
  dir?: string;
  /** Values buffered in memory before a sorted run goes to disk (see SortedRecordsWriter). */
  bufferRecords?: number;
}

/** A value as another instance takes it (see entries / addEntry): its keyed fingerprint, never the value itself. */
export interface KnownValueEntry {
  kind: KnownValueKind;
  /** 16 hex digits. */
  fingerprint: string;
  replacement: string;
  /** Folded length, first and last folded code unit: where a search has to look for it. */
  length: number;
  first: number;
  last: number;
}

const KINDS: readonly KnownValueKind[] = ["email", "phone", "person", "company", "address"];
const KIND_CODES = new Map(KINDS.map((kind, code) => [kind, code]));
// a record: fingerprint (2 words), the pseudonym's handle in the string file (3 words),
// kind · 2^16 + folded length, first · 2^16 + last folded code unit, a hash of the pseudonym
const recordWords = 8;
const HANDLE = 2;
const KIND_LENGTH = 5;
const FIRST_LAST = 6;
const REPLACEMENT_HASH = 7;
// code flags: some value starts with the code unit / ends with it
const STARTS = 1;
const ENDS = 2;
// a search hashes this far from each start at most; a longer "name" is no mention prose repeats
const maxValueLength = 256;
// recently added (fingerprint, pseudonym hash) triples: a value met again is not written again
const recentSlots = 1 << 14;

/**
 * PII values met in the kept data (first pass), each with its pseudonym, to be
 * replaced wherever free text mentions them (second pass). Matching folds case,
 * accents and runs of whitespace, and only takes whole words: "Ann" is found in
 * "ann's" but not in "Annual".
 *
 * A value is held as a keyed 64-bit fingerprint of its folded form, with its
 * pseudonym in a string file, in records sorted and merged on disk: memory is
 * a fixed buffer while values are added, then an index and a prefilter of 4 to
 * 8 bytes a value, however many there are. A search hashes the folded text from
 * each place a value can start to each place one can end, and looks the
 * fingerprints up (see #find): the prefilter answers nearly every miss, a hit
 * costs a read of a block.
 */
export class KnownValues {
  readonly #minLength: number;
  readonly #seedA: number;
  readonly #seedB: number;
  readonly #dir: string;
  readonly #ownDir: boolean;
  readonly #strings: StringFile;
  readonly #writer: SortedRecordsWriter;
  #sealed: SortedRecords | undefined;
  readonly #record = new Uint32Array(recordWords);
  readonly #recent = new Uint32Array(recentSlots * 3);
  readonly #codeFlags = new Uint8Array(0x10000);
  #maxLength = 0;
  readonly #scratch = new Uint32Array(2);
  readonly #best = new Uint32Array(recordWords);

  constructor(options: KnownValuesOptions = {}) {
    this.#minLength = Math.max(1, options.minLength ?? 3);
    const seeds = createHmac("sha256", options.secret ?? new Uint8Array(0)).update("devenv/known-values/v2").digest();
    this.#seedA = seeds.readUInt32LE(0);
    this.#seedB = seeds.readUInt32LE(4);
    this.#ownDir = options.dir === undefined;
    this.#dir = options.dir ?? mkdtempSync(join(tmpdir(), "devenv-known-"));
    this.#strings = new StringFile(join(this.#dir, "known-values.strings"));
    this.#writer = new SortedRecordsWriter(
      { dir: this.#dir, name: "known-values", recordWords, keyWords: 2, ...(options.bufferRecords ? { bufferRecords: options.bufferRecords } : {}) },
      (kept, other) => this.#mergeDuplicate(kept, other),
    );
  }

  /** Distinct values, once sealed (see build); before, 0. */
  get size(): number {
    return this.#sealed?.size ?? 0;
  }

  /** Bytes held in memory (buffers, code flags; once sealed, index and prefilter). */
  get byteLength(): number {
    return (this.#sealed?.byteLength ?? 2 * recordWords * 4 * 32_768) + this.#recent.byteLength + this.#codeFlags.byteLength;
  }

  /**
   * Returns false when the value is too short or too long to be held. One value
   * known with two pseudonyms (a name in a key column and in a plain one) keeps
   * the same one whatever the order of the calls (the shorter, then the first in
   * code-unit order), so parallel first passes still produce identical snapshots.
   */
  add(kind: KnownValueKind, original: string, replacement: string): boolean {
    // "n/a" in an email column is no one's address: replacing it in prose would only garble text
    if ((kind === "email" && !isPlausibleEmail(original)) || (kind === "phone" && !isPlausiblePhone(original))) return false;
    const folded = foldPattern(original);
    if (folded.length < this.#minLength || folded.length > maxValueLength) return false;
    fingerprint64(folded, this.#seedA, this.#seedB, this.#scratch);
    this.#put(kind, this.#scratch[0]!, this.#scratch[1]!, replacement, folded.length, folded.charCodeAt(0), folded.charCodeAt(folded.length - 1));
    return true;
  }

  /** Every value as an entry (no value in clear), once sealed: a first pass done in parts is merged with addEntry. */
  *entries(): IterableIterator<KnownValueEntry> {
    for (const r of this.#seal().records()) {
      yield {
        kind: KINDS[r[KIND_LENGTH]! >>> 16]!,
        fingerprint: hex(r[0]!, r[1]!),
        replacement: this.#strings.get(r, HANDLE),
        length: r[KIND_LENGTH]! & 0xffff,
        first: r[FIRST_LAST]! >>> 16,
        last: r[FIRST_LAST]! & 0xffff,
      };
    }
  }

  /** Adds an entry of another instance's entries() (same secret); the same pseudonym wins as with add, whatever the order. */
  addEntry(entry: KnownValueEntry): boolean {
    if (!/^[0-9a-f]{16}$/.test(entry.fingerprint)) throw new RangeError(`not a known-value fingerprint: "${entry.fingerprint.slice(0, 40)}"`);
    if (entry.length < this.#minLength || entry.length > maxValueLength) return false;
    const lo = Number.parseInt(entry.fingerprint.slice(0, 8), 16);
    const hi = Number.parseInt(entry.fingerprint.slice(8), 16);
    this.#put(entry.kind, lo, hi, entry.replacement, entry.length, entry.first, entry.last);
    return true;
  }

  /** Removes the values' files (and the directory, when it is the instance's own). */
  close(): void {
    this.#sealed?.close();
    this.#sealed = undefined;
    this.#writer.discard();
    this.#strings.remove();
    if (this.#ownDir) rmSync(this.#dir, { recursive: true, force: true });
  }

  #put(kind: KnownValueKind, lo: number, hi: number, replacement: string, length: number, first: number, last: number): void {
    const replacementHash = hashOf(replacement);
    const recent = (lo & (recentSlots - 1)) * 3;
    if (this.#recent[recent] === lo && this.#recent[recent + 1] === hi && this.#recent[recent + 2] === replacementHash) return;
    this.#recent[recent] = lo;
    this.#recent[recent + 1] = hi;
    this.#recent[recent + 2] = replacementHash;
    const r = this.#record;
    r[0] = lo;
    r[1] = hi;
    this.#strings.append(replacement, r, HANDLE);
    r[KIND_LENGTH] = ((KIND_CODES.get(kind)! << 16) | length) >>> 0;
    r[FIRST_LAST] = ((first << 16) | last) >>> 0;
    r[REPLACEMENT_HASH] = replacementHash;
    this.#writer.append(r);
    this.#codeFlags[first] = this.#codeFlags[first]! | STARTS;
    this.#codeFlags[last] = this.#codeFlags[last]! | ENDS;
    if (length > this.#maxLength) this.#maxLength = length;
  }

  // one value, two pseudonyms: the shorter wins, then the first in code-unit order; one pseudonym: the lower kind
  #mergeDuplicate(kept: Uint32Array, other: Uint32Array): void {
    if (kept[REPLACEMENT_HASH] === other[REPLACEMENT_HASH] && kept[HANDLE + 2] === other[HANDLE + 2]) {
      if (other[KIND_LENGTH]! < kept[KIND_LENGTH]!) kept[KIND_LENGTH] = other[KIND_LENGTH]!;
      return;
    }
    const current = this.#strings.get(kept, HANDLE);
    const candidate = this.#strings.get(other, HANDLE);
    if (candidate.length < current.length || (candidate.length === current.length && candidate < current)) kept.set(other);
  }

  #seal(): SortedRecords {
    this.#sealed ??= this.#writer.seal();
    return this.#sealed;
  }

  /** A matcher over the values. Seals them: values cannot be added after. */
  build(): KnownValueMatcher {
    const sealed = this.#seal();
    return new KnownValueMatcher(sealed.size, (text) => this.#find(sealed, text));
  }

  /**
   * Occurrences of known values, leftmost-longest, not overlapping, in text order.
   * From each folded position where some value starts (and a word boundary is, when
   * it starts with a word character), the fingerprint of the folded text grows one
   * code unit at a time; where some value ends (and a boundary is, when it ends with
   * a word character) it is looked up. The longest hit wins, and the search goes on
   * after it. Work is the text's length times the longest value's, at most.
   */
  #find(sealed: SortedRecords, text: string): KnownValueMatch[] {
    if (sealed.size === 0 || text.length === 0) return [];
    const { codes, positions, length } = foldText(text);
    const flags = this.#codeFlags;
    const out: KnownValueMatch[] = [];
    const seedA = this.#seedA;
    const seedB = this.#seedB;
    const scratch = this.#scratch;
    const best = this.#best;
    const { bits, mask } = sealed.prefilterBits;
    for (let i = 0; i < length; i++) {
      const firstCode = codes[i]!;
      if (!(flags[firstCode]! & STARTS)) continue;
      const from = positions[i]!;
      if (isWordCode(firstCode) && from > 0 && isWordCode(text.charCodeAt(from - 1))) continue;
      let h1 = seedA;
      let h2 = seedB;
      let bestEnd = -1;
      let bestTo = 0;
      const limit = Math.min(length, i + this.#maxLength);
      for (let j = i; j < limit; j++) {
        const code = codes[j]!;
        h1 = Math.imul(h1 ^ code, 2654435761);
        h2 = Math.imul(h2 ^ code, 1597334677);
        if (j + 1 - i < this.#minLength || !(flags[code]! & ENDS)) continue;
        let to = positions[j]! + 1;
        // a decomposed accent after the last letter belongs to the match
        while (to < text.length && foldCode(text.charCodeAt(to)) === SKIP) to++;
        if (isWordCode(code) && to < text.length && isWordCode(text.charCodeAt(to))) continue;
        mixLanes(h1, h2, scratch);
        // the prefilter's first bit, inline, turns most candidates away; find() asks the rest, and reads only for a likely hit
        const bit = scratch[0]! & mask;
        if ((bits[bit >>> 5]! & (1 << (bit & 31))) === 0) continue;
        const record = sealed.find(scratch);
        if (!record) continue;
        best.set(record);
        bestEnd = j;
        bestTo = to;
      }
      if (bestEnd < 0) continue;
      out.push({ kind: KINDS[best[KIND_LENGTH]! >>> 16]!, start: from, end: bestTo, replacement: this.#strings.get(best, HANDLE) });
      i = bestEnd;
    }
    return out;
  }
}

/** Finds known values in texts (see KnownValues.build). */
export class KnownValueMatcher {
  readonly size: number;
  readonly #find: (text: string) => KnownValueMatch[];

  constructor(size: number, find: (text: string) => KnownValueMatch[]) {
    this.size = size;
    this.#find = find;
  }

  /** Occurrences of known values, leftmost-longest, not overlapping, in text order. */
  find(text: string): KnownValueMatch[] {
    return this.#find(text);
  }

  /** The text with every known value replaced by its pseudonym. */
  replace(text: string): { text: string; replaced: number } {
    const matches = this.find(text);
    if (matches.length === 0) return { text, replaced: 0 };
    let out = "";
    let copied = 0;
    for (const m of matches) {
      out += text.slice(copied, m.start) + m.replacement;
      copied = m.end;
    }
    return { text: out + text.slice(copied), replaced: matches.length };
  }
}

/** FNV-1a of the code units: tells most pairs of distinct pseudonyms apart without reading them. */
function hashOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

function hex(lo: number, hi: number): string {
  return lo.toString(16).padStart(8, "0") + hi.toString(16).padStart(8, "0");
}


// Scratch of foldText: folding runs for every value added and every text searched, and typed
// arrays of their size would each be an allocation outside the heap. Texts longer than this
// get arrays of their own, so one huge text does not keep its size for the rest of the run.
const scratchLimit = 1 << 16;
let scratchCodes = new Uint16Array(1024);
let scratchPositions = new Int32Array(1024);

/**
 * The folded code units of a text, without skipped marks and with whitespace runs
 * collapsed, and where each came from. The arrays are reused by the next call.
 */
function foldText(text: string): { codes: Uint16Array; positions: Int32Array; length: number } {
  let codes = scratchCodes;
  let positions = scratchPositions;
  if (codes.length < text.length) {
    codes = new Uint16Array(text.length);
    positions = new Int32Array(text.length);
    if (text.length <= scratchLimit) [scratchCodes, scratchPositions] = [codes, positions];
  }
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = foldCode(text.charCodeAt(i));
    if (code === SKIP || (code === 32 && length > 0 && codes[length - 1] === 32)) continue;
    codes[length] = code;
    positions[length++] = i;
  }
  return { codes, positions, length };
}

function foldPattern(value: string): string {
  const { codes, length } = foldText(value);
  let start = 0;
  let end = length;
  while (start < end && codes[start] === 32) start++;
  while (end > start && codes[end - 1] === 32) end--;
  let out = "";
  // chunks keep String.fromCharCode's argument list small
  for (let i = start; i < end; i += 4096) out += String.fromCharCode(...codes.subarray(i, Math.min(end, i + 4096)));
  return out;
}
