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
  /** Values shorter than this (after folding) are ignored: too likely to be ordinary words. Default 3. */
  minLength?: number;
}

const KINDS: readonly KnownValueKind[] = ["email", "phone", "person", "company", "address"];
const KIND_CODES = new Map(KINDS.map((kind, code) => [kind, code]));

/**
 * PII values met in the kept data (first pass), each with its pseudonym, to be
 * replaced wherever free text mentions them (second pass). Matching folds case,
 * accents and runs of whitespace, and only takes whole words: "Ann" is found in
 * "ann's" but not in "Annual".
 *
 * Held compactly, since it grows with the kept data: the strings packed outside
 * the JS heap, each value a record of typed-array words, found through an
 * open-addressing table of value ids (about 75 bytes a value, against some 150
 * for a Map of strings).
 */
export class KnownValues {
  readonly #minLength: number;
  readonly #strings = new PackedStrings();
  // per value: folded value's handle (2 words), then its pseudonym's (2 words)
  #records = new Uint32Array(4 * 1024);
  #kinds = new Uint8Array(1024);
  #hashes = new Int32Array(1024);
  #count = 0;
  // value id + 1, or 0 for an empty slot; never more than half full
  #slots = new Int32Array(2048);

  constructor(options: KnownValuesOptions = {}) {
    this.#minLength = Math.max(1, options.minLength ?? 3);
  }

  get size(): number {
    return this.#count;
  }

  /** Bytes held outside the JS heap (strings, records, table). */
  get byteLength(): number {
    return this.#strings.byteLength + this.#records.byteLength + this.#kinds.byteLength + this.#hashes.byteLength + this.#slots.byteLength;
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
    return this.#put(kind, foldPattern(original), replacement);
  }

  /** Every value as [kind, folded value, pseudonym]: a first pass done in parts is merged with addFolded. */
  *entries(): IterableIterator<[KnownValueKind, string, string]> {
    for (let id = 0; id < this.#count; id++) {
      const r = id * 4;
      yield [KINDS[this.#kinds[id]!]!, this.#strings.get(this.#records[r]!, this.#records[r + 1]!), this.#strings.get(this.#records[r + 2]!, this.#records[r + 3]!)];
    }
  }

  /** Adds an entry of another instance's entries(); the same pseudonym wins as with add, whatever the order. */
  addFolded(kind: KnownValueKind, folded: string, replacement: string): boolean {
    return this.#put(kind, folded, replacement);
  }

  #put(kind: KnownValueKind, folded: string, replacement: string): boolean {
    if (folded.length < this.#minLength) return false;
    const hash = hashString(folded);
    const mask = this.#slots.length - 1;
    let slot = hash & mask;
    for (let entry = this.#slots[slot]!; entry !== 0; entry = this.#slots[slot]!) {
      const id = entry - 1;
      const r = id * 4;
      if (this.#hashes[id] === hash && this.#strings.equals(this.#records[r]!, this.#records[r + 1]!, folded)) {
        if (this.#strings.equals(this.#records[r + 2]!, this.#records[r + 3]!, replacement)) return false;
        const current = this.#strings.get(this.#records[r + 2]!, this.#records[r + 3]!);
        if (replacement.length < current.length || (replacement.length === current.length && replacement < current)) {
          this.#strings.append(replacement, this.#records, r + 2);
          this.#kinds[id] = KIND_CODES.get(kind)!;
        }
        return false;
      }
      slot = (slot + 1) & mask;
    }
    const id = this.#count;
    if (id === this.#kinds.length) this.#growRecords();
    this.#strings.append(folded, this.#records, id * 4);
    this.#strings.append(replacement, this.#records, id * 4 + 2);
    this.#kinds[id] = KIND_CODES.get(kind)!;
    this.#hashes[id] = hash;
    this.#slots[slot] = id + 1;
    this.#count++;
    if (this.#count * 2 > this.#slots.length) this.#rehash();
    return true;
  }

  #growRecords(): void {
    const capacity = this.#kinds.length * 2;
    const records = new Uint32Array(capacity * 4);
    records.set(this.#records);
    this.#records = records;
    const kinds = new Uint8Array(capacity);
    kinds.set(this.#kinds);
    this.#kinds = kinds;
    const hashes = new Int32Array(capacity);
    hashes.set(this.#hashes);
    this.#hashes = hashes;
  }

  #rehash(): void {
    const slots = new Int32Array(this.#slots.length * 2);
    const mask = slots.length - 1;
    for (let id = 0; id < this.#count; id++) {
      let slot = this.#hashes[id]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = id + 1;
    }
    this.#slots = slots;
  }

  /** An Aho–Corasick automaton over the values added so far; values added later do not change it. */
  build(): KnownValueMatcher {
    const folded: string[] = new Array(this.#count);
    for (let id = 0; id < this.#count; id++) folded[id] = this.#strings.get(this.#records[id * 4]!, this.#records[id * 4 + 1]!);
    const order = Array.from({ length: this.#count }, (_, id) => id).sort((a, b) => (folded[a]! < folded[b]! ? -1 : folded[a]! > folded[b]! ? 1 : 0));
    const patterns = order.map((id) => folded[id]!);
    const kinds = Uint8Array.from(order, (id) => this.#kinds[id]!);
    const replacements = new Uint32Array(order.length * 2);
    for (let p = 0; p < order.length; p++) {
      replacements[2 * p] = this.#records[order[p]! * 4 + 2]!;
      replacements[2 * p + 1] = this.#records[order[p]! * 4 + 3]!;
    }
    return new KnownValueMatcher(patterns, kinds, replacements, this.#strings);
  }
}

/**
 * Finds every known value in a text in one pass over it. Where occurrences
 * overlap, the leftmost wins, and of those the longest ("Ann Lee" over "Ann").
 *
 * The trie takes 14 bytes a node (a node per distinct prefix of the values):
 * first child, edge label, fail link and output link; which value ends at a
 * node is looked up only when a match is reported.
 */
export class KnownValueMatcher {
  readonly size: number;
  readonly #kinds: Uint8Array;
  // the pseudonym's handle in #strings, two words per value
  readonly #replacements: Uint32Array;
  readonly #strings: PackedStrings;
  readonly #lengths: Int32Array;
  // whether a value starts / ends with a word character (then it needs a word boundary there)
  readonly #wordEdges: Uint8Array;
  // the trie in BFS order: node n's children are firstChild[n] .. firstChild[n + 1] - 1, sorted by edge label
  readonly #firstChild: Int32Array;
  readonly #label: Uint16Array;
  readonly #fail: Int32Array;
  /** The node itself if a value ends there, else the nearest such node along its fail links, else 0. */
  readonly #outLink: Int32Array;
  /** Nodes where a value ends, ascending, and the value ending at each. */
  readonly #terminalNodes: Int32Array;
  readonly #terminalValues: Int32Array;
  /** The root's transitions as a direct table: most steps of a search start at the root. */
  readonly #rootNext: Int32Array;

  /** Built by KnownValues.build(): distinct values sorted by code unit, with their kinds and pseudonyms' handles. */
  constructor(sortedPatterns: readonly string[], kinds: Uint8Array, replacements: Uint32Array, strings: PackedStrings) {
    const count = sortedPatterns.length;
    this.size = count;
    this.#kinds = kinds;
    this.#replacements = replacements;
    this.#strings = strings;
    this.#lengths = Int32Array.from(sortedPatterns, (p) => p.length);
    this.#wordEdges = Uint8Array.from(sortedPatterns, (p) => (isWordCode(p.charCodeAt(0)) ? 1 : 0) | (isWordCode(p.charCodeAt(p.length - 1)) ? 2 : 0));

    // a node per distinct prefix: sorted, each value adds the characters it does not share with the one before
    let nodes = 1;
    for (let p = 0; p < count; p++) nodes += sortedPatterns[p]!.length - (p === 0 ? 0 : commonPrefix(sortedPatterns[p - 1]!, sortedPatterns[p]!));
    const firstChild = new Int32Array(nodes + 1);
    const label = new Uint16Array(nodes);
    const fail = new Int32Array(nodes);
    const outLink = new Int32Array(nodes);
    const terminalNodes = new Int32Array(count);
    const terminalValues = new Int32Array(count);
    // while building: the range of sorted values under each node
    const low = new Int32Array(nodes);
    const high = new Int32Array(nodes);
    high[0] = count;
    let created = 1;
    let terminals = 0;
    let depth = 0;
    let levelEnd = 1; // BFS order: the nodes before levelEnd are at `depth` or above
    for (let node = 0; node < created; node++) {
      if (node === levelEnd) {
        depth++;
        levelEnd = created;
      }
      let lo = low[node]!;
      const hi = high[node]!;
      // sorted, so a value that ends here comes before its extensions
      if (lo < hi && sortedPatterns[lo]!.length === depth) {
        terminalNodes[terminals] = node;
        terminalValues[terminals++] = lo++;
      }
      firstChild[node] = created;
      while (lo < hi) {
        const code = sortedPatterns[lo]!.charCodeAt(depth);
        let end = lo + 1;
        while (end < hi && sortedPatterns[end]!.charCodeAt(depth) === code) end++;
        const child = created++;
        label[child] = code;
        low[child] = lo;
        high[child] = end;
        lo = end;
      }
      // fail and output links of the new children: every shallower node already has its children
      for (let child = firstChild[node]!; child < created; child++) {
        let target = 0;
        if (node !== 0) {
          for (let f = fail[node]!; ; f = fail[f]!) {
            const next = step(firstChild, label, f, label[child]!);
            if (next >= 0) {
              target = next;
              break;
            }
            if (f === 0) break;
          }
        }
        fail[child] = target;
        outLink[child] = sortedPatterns[low[child]!]!.length === depth + 1 ? child : outLink[target]!;
      }
    }
    firstChild[nodes] = nodes;
    this.#firstChild = firstChild;
    this.#label = label;
    this.#fail = fail;
    this.#outLink = outLink;
    this.#terminalNodes = terminalNodes;
    this.#terminalValues = terminalValues;
    this.#rootNext = new Int32Array(0x10000).fill(-1);
    for (let c = firstChild[0]!; c < firstChild[1]!; c++) this.#rootNext[label[c]!] = c;
  }

  /** Bytes of the automaton (its pseudonyms stay with the KnownValues it came from). */
  get byteLength(): number {
    return [this.#kinds, this.#replacements, this.#lengths, this.#wordEdges, this.#firstChild, this.#label, this.#fail, this.#outLink, this.#terminalNodes, this.#terminalValues, this.#rootNext].reduce(
      (n, a) => n + a.byteLength,
      0,
    );
  }

  /** Occurrences of known values, leftmost-longest, not overlapping, in text order. */
  find(text: string): KnownValueMatch[] {
    if (this.size === 0 || text.length === 0) return [];
    const { codes, positions, length } = foldText(text);
    const found: number[] = []; // triples: start, end (folded positions, end exclusive), value
    const fail = this.#fail;
    const outLink = this.#outLink;
    let state = 0;
    for (let i = 0; i < length; i++) {
      const code = codes[i]!;
      for (;;) {
        const next = state === 0 ? this.#rootNext[code]! : step(this.#firstChild, this.#label, state, code);
        if (next >= 0) {
          state = next;
          break;
        }
        if (state === 0) break;
        state = fail[state]!;
      }
      for (let o = outLink[state]!; o > 0; o = outLink[fail[o]!]!) {
        const value = this.#valueEndingAt(o);
        found.push(i + 1 - this.#lengths[value]!, i + 1, value);
      }
    }
    return this.#select(text, found, positions);
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

  #valueEndingAt(node: number): number {
    const nodes = this.#terminalNodes;
    let lo = 0;
    let hi = nodes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nodes[mid]! < node) lo = mid + 1;
      else hi = mid;
    }
    return this.#terminalValues[lo]!;
  }

  #select(text: string, found: number[], positions: Int32Array): KnownValueMatch[] {
    const order: number[] = [];
    for (let f = 0; f < found.length; f += 3) order.push(f);
    // leftmost, then longest
    order.sort((a, b) => found[a]! - found[b]! || found[b + 1]! - found[a + 1]!);
    const out: KnownValueMatch[] = [];
    let taken = 0; // folded position up to which text is already replaced
    for (const f of order) {
      const start = found[f]!;
      const end = found[f + 1]!;
      const value = found[f + 2]!;
      if (start < taken) continue;
      const from = positions[start]!;
      let to = positions[end - 1]! + 1;
      // a decomposed accent after the last letter belongs to the match
      while (to < text.length && foldCode(text.charCodeAt(to)) === SKIP) to++;
      const edges = this.#wordEdges[value]!;
      if (edges & 1 && from > 0 && isWordCode(text.charCodeAt(from - 1))) continue;
      if (edges & 2 && to < text.length && isWordCode(text.charCodeAt(to))) continue;
      const replacement = this.#strings.get(this.#replacements[2 * value]!, this.#replacements[2 * value + 1]!);
      out.push({ kind: KINDS[this.#kinds[value]!]!, start: from, end: to, replacement });
      taken = end;
    }
    return out;
  }
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/** A 32-bit hash of a string's code units (FNV-1a with a final mix). */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h & 0x7fffffff;
}

function step(firstChild: Int32Array, label: Uint16Array, node: number, code: number): number {
  let lo = firstChild[node]!;
  let hi = firstChild[node + 1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = label[mid]!;
    if (c === code) return mid;
    if (c < code) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The folded code units of a text, without skipped marks and with whitespace runs collapsed, and where each came from. */
function foldText(text: string): { codes: Uint16Array; positions: Int32Array; length: number } {
  const codes = new Uint16Array(text.length);
  const positions = new Int32Array(text.length);
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
