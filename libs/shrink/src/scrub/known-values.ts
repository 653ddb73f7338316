import { createHmac } from "node:crypto";
import { foldCode, isWordCode, SKIP } from "./char-tables.ts";
import { isPlausibleEmail, isPlausiblePhone } from "./normalize.ts";
import { PackedStrings } from "./packed-strings.ts";

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
// per slot: fingerprint (2 words), the pseudonym's handle in the packed strings (2 words), the
// folded length, and the first and last folded code units (16 bits each): what entries() carries
const slotWords = 6;
// code flags: some value starts with the code unit / ends with it
const STARTS = 1;
const ENDS = 2;
// a search hashes this far from each start at most; a longer "name" is no mention prose repeats
const maxValueLength = 256;

/**
 * PII values met in the kept data (first pass), each with its pseudonym, to be
 * replaced wherever free text mentions them (second pass). Matching folds case,
 * accents and runs of whitespace, and only takes whole words: "Ann" is found in
 * "ann's" but not in "Annual".
 *
 * A value is held as a keyed 64-bit fingerprint of its folded form next to its
 * pseudonym, in an open-addressing table of 24-byte slots (at most half full),
 * the pseudonyms packed outside the JS heap: their characters plus 48 to 96
 * bytes a value, where the values with an automaton over them took about 250.
 * A search hashes the folded text from each place a value can start to each
 * place one can end, and looks the fingerprints up (see #find).
 */
export class KnownValues {
  readonly #minLength: number;
  readonly #seedA: number;
  readonly #seedB: number;
  readonly #strings = new PackedStrings();
  #slots = new Uint32Array(slotWords * 1024);
  // kind code + 1 per slot; 0: the slot is empty
  #kinds = new Uint8Array(1024);
  #count = 0;
  readonly #codeFlags = new Uint8Array(0x10000);
  #maxLength = 0;
  readonly #scratch = new Uint32Array(2);

  constructor(options: KnownValuesOptions = {}) {
    this.#minLength = Math.max(1, options.minLength ?? 3);
    const seeds = createHmac("sha256", options.secret ?? new Uint8Array(0)).update("devenv/known-values/v2").digest();
    this.#seedA = seeds.readUInt32LE(0);
    this.#seedB = seeds.readUInt32LE(4);
  }

  get size(): number {
    return this.#count;
  }

  /** Bytes held outside the JS heap (pseudonyms, table, code flags). */
  get byteLength(): number {
    return this.#strings.byteLength + this.#slots.byteLength + this.#kinds.byteLength + this.#codeFlags.byteLength;
  }

  /**
   * Returns false when the value is too short or already known. One value known
   * with two pseudonyms (a name in a key column and in a plain one) keeps the
   * same one whatever the order of the calls, so parallel first passes still
   * produce identical snapshots.
   */
  add(kind: KnownValueKind, original: string, replacement: string): boolean {
    // "n/a" in an email column is no one's address: replacing it in prose would only garble text
    if ((kind === "email" && !isPlausibleEmail(original)) || (kind === "phone" && !isPlausiblePhone(original))) return false;
    const folded = foldPattern(original);
    if (folded.length < this.#minLength || folded.length > maxValueLength) return false;
    fingerprintOf(folded, this.#seedA, this.#seedB, this.#scratch);
    return this.#put(kind, this.#scratch[0]!, this.#scratch[1]!, replacement, folded.length, folded.charCodeAt(0), folded.charCodeAt(folded.length - 1));
  }

  /** Every value as an entry (no value in clear): a first pass done in parts is merged with addEntry. */
  *entries(): IterableIterator<KnownValueEntry> {
    const slots = this.#slots;
    for (let slot = 0; slot < this.#kinds.length; slot++) {
      const kind = this.#kinds[slot]!;
      if (kind === 0) continue;
      const base = slot * slotWords;
      yield {
        kind: KINDS[kind - 1]!,
        fingerprint: hex(slots[base]!, slots[base + 1]!),
        replacement: this.#strings.get(slots[base + 2]!, slots[base + 3]!),
        length: slots[base + 4]!,
        first: slots[base + 5]! >>> 16,
        last: slots[base + 5]! & 0xffff,
      };
    }
  }

  /** Adds an entry of another instance's entries() (same secret); the same pseudonym wins as with add, whatever the order. */
  addEntry(entry: KnownValueEntry): boolean {
    if (!/^[0-9a-f]{16}$/.test(entry.fingerprint)) throw new RangeError(`not a known-value fingerprint: "${entry.fingerprint.slice(0, 40)}"`);
    if (entry.length < this.#minLength || entry.length > maxValueLength) return false;
    const lo = Number.parseInt(entry.fingerprint.slice(0, 8), 16);
    const hi = Number.parseInt(entry.fingerprint.slice(8), 16);
    return this.#put(entry.kind, lo, hi, entry.replacement, entry.length, entry.first, entry.last);
  }

  #put(kind: KnownValueKind, lo: number, hi: number, replacement: string, length: number, first: number, last: number): boolean {
    const slot = this.#probe(lo, hi);
    const base = slot * slotWords;
    if (this.#kinds[slot] !== 0) {
      if (this.#strings.equals(this.#slots[base + 2]!, this.#slots[base + 3]!, replacement)) return false;
      const current = this.#strings.get(this.#slots[base + 2]!, this.#slots[base + 3]!);
      if (replacement.length < current.length || (replacement.length === current.length && replacement < current)) {
        this.#strings.append(replacement, this.#slots, base + 2);
        this.#kinds[slot] = KIND_CODES.get(kind)! + 1;
      }
      return false;
    }
    this.#slots[base] = lo;
    this.#slots[base + 1] = hi;
    this.#strings.append(replacement, this.#slots, base + 2);
    this.#slots[base + 4] = length;
    this.#slots[base + 5] = ((first << 16) | last) >>> 0;
    this.#kinds[slot] = KIND_CODES.get(kind)! + 1;
    this.#codeFlags[first] = this.#codeFlags[first]! | STARTS;
    this.#codeFlags[last] = this.#codeFlags[last]! | ENDS;
    if (length > this.#maxLength) this.#maxLength = length;
    this.#count++;
    if (this.#count * 2 > this.#kinds.length) this.#grow();
    return true;
  }

  /** The slot holding the fingerprint, or the empty slot where it would go. */
  #probe(lo: number, hi: number): number {
    const mask = this.#kinds.length - 1;
    for (let slot = (lo ^ hi) & mask; ; slot = (slot + 1) & mask) {
      if (this.#kinds[slot] === 0) return slot;
      const base = slot * slotWords;
      if (this.#slots[base] === lo && this.#slots[base + 1] === hi) return slot;
    }
  }

  #grow(): void {
    const oldSlots = this.#slots;
    const oldKinds = this.#kinds;
    this.#slots = new Uint32Array(oldSlots.length * 2);
    this.#kinds = new Uint8Array(oldKinds.length * 2);
    for (let slot = 0; slot < oldKinds.length; slot++) {
      if (oldKinds[slot] === 0) continue;
      const base = slot * slotWords;
      const to = this.#probe(oldSlots[base]!, oldSlots[base + 1]!);
      this.#slots.set(oldSlots.subarray(base, base + slotWords), to * slotWords);
      this.#kinds[to] = oldKinds[slot]!;
    }
  }

  /** A matcher over the values: it sees values added later too. */
  build(): KnownValueMatcher {
    return new KnownValueMatcher(this, (text) => this.#find(text));
  }

  /**
   * Occurrences of known values, leftmost-longest, not overlapping, in text order.
   * From each folded position where some value starts (and a word boundary is, when
   * it starts with a word character), the fingerprint of the folded text grows one
   * code unit at a time; where some value ends (and a boundary is, when it ends with
   * a word character) it is looked up. The longest hit wins, and the search goes on
   * after it. Work is the text's length times the longest value's, at most.
   */
  #find(text: string): KnownValueMatch[] {
    if (this.#count === 0 || text.length === 0) return [];
    const { codes, positions, length } = foldText(text);
    const flags = this.#codeFlags;
    const out: KnownValueMatch[] = [];
    const seedA = this.#seedA;
    const seedB = this.#seedB;
    for (let i = 0; i < length; i++) {
      const firstCode = codes[i]!;
      if (!(flags[firstCode]! & STARTS)) continue;
      const from = positions[i]!;
      if (isWordCode(firstCode) && from > 0 && isWordCode(text.charCodeAt(from - 1))) continue;
      let h1 = seedA;
      let h2 = seedB;
      let bestEnd = -1;
      let bestSlot = -1;
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
        finish(h1, h2, this.#scratch);
        const slot = this.#probe(this.#scratch[0]!, this.#scratch[1]!);
        if (this.#kinds[slot] === 0) continue;
        bestEnd = j;
        bestSlot = slot;
        bestTo = to;
      }
      if (bestSlot < 0) continue;
      const base = bestSlot * slotWords;
      out.push({
        kind: KINDS[this.#kinds[bestSlot]! - 1]!,
        start: from,
        end: bestTo,
        replacement: this.#strings.get(this.#slots[base + 2]!, this.#slots[base + 3]!),
      });
      i = bestEnd;
    }
    return out;
  }
}

/** Finds known values in texts (see KnownValues.build). */
export class KnownValueMatcher {
  readonly #values: KnownValues;
  readonly #find: (text: string) => KnownValueMatch[];

  constructor(values: KnownValues, find: (text: string) => KnownValueMatch[]) {
    this.#values = values;
    this.#find = find;
  }

  get size(): number {
    return this.#values.size;
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

/** The keyed 64-bit fingerprint of a folded value, as two words in `out`; the search computes the same code unit by code unit. */
function fingerprintOf(folded: string, seedA: number, seedB: number, out: Uint32Array): void {
  let h1 = seedA;
  let h2 = seedB;
  for (let i = 0; i < folded.length; i++) {
    const code = folded.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  finish(h1, h2, out);
}

/** The two lanes mixed into each other (the "cyrb53" avalanche, kept to 64 bits). */
function finish(h1: number, h2: number, out: Uint32Array): void {
  let a = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  a ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  let b = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  b ^= Math.imul(a ^ (a >>> 13), 3266489909);
  out[0] = a >>> 0;
  out[1] = b >>> 0;
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
