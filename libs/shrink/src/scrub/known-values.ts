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
    const records = this.#records;
    const strings = this.#strings;
    // sorted by code unit straight from the packed strings: no JS string per value, even for a moment
    const order = Int32Array.from({ length: this.#count }, (_, id) => id).sort((a, b) =>
      strings.compare(records[a * 4]!, records[a * 4 + 1]!, records[b * 4]!, records[b * 4 + 1]!),
    );
    const folded = new Uint32Array(order.length * 2);
    const replacements = new Uint32Array(order.length * 2);
    const kinds = new Uint8Array(order.length);
    for (let v = 0; v < order.length; v++) {
      const r = order[v]! * 4;
      folded[2 * v] = records[r]!;
      folded[2 * v + 1] = records[r + 1]!;
      replacements[2 * v] = records[r + 2]!;
      replacements[2 * v + 1] = records[r + 3]!;
      kinds[v] = this.#kinds[order[v]!]!;
    }
    return new KnownValueMatcher({ folded, kinds, replacements, strings });
  }
}

/** What KnownValues.build() hands to the matcher: distinct folded values sorted by code unit, with their kinds and pseudonyms. */
export interface SortedKnownValues {
  /** Handles into `strings`, two words a value. */
  folded: Uint32Array;
  kinds: Uint8Array;
  /** Handles into `strings`, two words a value. */
  replacements: Uint32Array;
  strings: PackedStrings;
}

/**
 * Finds every known value in a text in one pass over it. Where occurrences
 * overlap, the leftmost wins, and of those the longest ("Ann Lee" over "Ann").
 *
 * The trie takes about 10 bytes a node (a node per distinct prefix of the
 * values): first child, edge label, fail link and a bit for "a value ends here
 * or along the fail links". The few nodes with that bit keep their output link
 * and value in short sorted tables, looked up only when the bit is set.
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
  /** Bit n: node n has an output link (a value ends there, or at a node along its fail links). */
  readonly #hasOutput: Uint32Array;
  /** Nodes with an output link, ascending; for each, the link (the node itself or the nearest along its fail links where a value ends) and the value ending at the node itself, or -1. */
  readonly #outputNodes: Int32Array;
  readonly #outputLinks: Int32Array;
  readonly #outputValues: Int32Array;
  /** The root's transitions as a direct table: most steps of a search start at the root. */
  readonly #rootNext: Int32Array;

  constructor(values: SortedKnownValues) {
    const { folded, strings } = values;
    const count = values.kinds.length;
    const length = (v: number) => folded[2 * v + 1]! >>> 1;
    const codeAt = (v: number, i: number) => strings.codeAt(folded[2 * v]!, folded[2 * v + 1]!, i);
    this.size = count;
    this.#kinds = values.kinds;
    this.#replacements = values.replacements;
    this.#strings = strings;
    this.#lengths = Int32Array.from({ length: count }, (_, v) => length(v));
    this.#wordEdges = Uint8Array.from({ length: count }, (_, v) => (isWordCode(codeAt(v, 0)) ? 1 : 0) | (isWordCode(codeAt(v, length(v) - 1)) ? 2 : 0));

    // a node per distinct prefix: sorted, each value adds the characters it does not share with the one before
    let nodes = 1;
    for (let v = 0; v < count; v++) {
      let common = 0;
      if (v > 0) while (common < length(v - 1) && common < length(v) && codeAt(v - 1, common) === codeAt(v, common)) common++;
      nodes += length(v) - common;
    }
    const firstChild = new Int32Array(nodes + 1);
    const label = new Uint16Array(nodes);
    const fail = new Int32Array(nodes);
    const hasOutput = new Uint32Array(Math.ceil(nodes / 32));
    const outputs = new OutputTable(count);
    // while building, per level of the trie: the range of sorted values under each node of the level
    // being expanded and of the next one (the nodes of one level have disjoint ranges, so at most `count`)
    let levelLow = new Int32Array(count + 1);
    let levelHigh = new Int32Array(count + 1);
    let nextLow = new Int32Array(count + 1);
    let nextHigh = new Int32Array(count + 1);
    levelHigh[0] = count;
    let created = 1;
    let depth = 0;
    let levelStart = 0;
    let levelEnd = 1;
    for (let node = 0; node < created; node++) {
      if (node === levelEnd) {
        depth++;
        levelStart = levelEnd;
        levelEnd = created;
        [levelLow, nextLow] = [nextLow, levelLow];
        [levelHigh, nextHigh] = [nextHigh, levelHigh];
      }
      let lo = levelLow[node - levelStart]!;
      const hi = levelHigh[node - levelStart]!;
      // sorted, so a value that ends here comes before its extensions
      if (lo < hi && length(lo) === depth) outputs.setValue(node, lo++);
      firstChild[node] = created;
      while (lo < hi) {
        const code = codeAt(lo, depth);
        let end = lo + 1;
        while (end < hi && codeAt(end, depth) === code) end++;
        const child = created++;
        label[child] = code;
        nextLow[child - levelEnd] = lo;
        nextHigh[child - levelEnd] = end;
        lo = end;
      }
      // fail and output links of the new children: every shallower node already has its children and links
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
        const first = nextLow[child - levelEnd]!;
        const link = length(first) === depth + 1 ? child : hasBit(hasOutput, target) ? outputs.linkOf(target) : 0;
        if (link !== 0) {
          hasOutput[child >>> 5] = hasOutput[child >>> 5]! | (1 << (child & 31));
          outputs.setLink(child, link);
        }
      }
    }
    firstChild[nodes] = nodes;
    this.#firstChild = firstChild;
    this.#label = label;
    this.#fail = fail;
    this.#hasOutput = hasOutput;
    [this.#outputNodes, this.#outputLinks, this.#outputValues] = outputs.finish();
    this.#rootNext = new Int32Array(0x10000).fill(-1);
    for (let c = firstChild[0]!; c < firstChild[1]!; c++) this.#rootNext[label[c]!] = c;
  }

  /** Bytes of the automaton (its pseudonyms stay with the KnownValues it came from). */
  get byteLength(): number {
    return [
      this.#kinds,
      this.#replacements,
      this.#lengths,
      this.#wordEdges,
      this.#firstChild,
      this.#label,
      this.#fail,
      this.#hasOutput,
      this.#outputNodes,
      this.#outputLinks,
      this.#outputValues,
      this.#rootNext,
    ].reduce((n, a) => n + a.byteLength, 0);
  }

  /** Occurrences of known values, leftmost-longest, not overlapping, in text order. */
  find(text: string): KnownValueMatch[] {
    if (this.size === 0 || text.length === 0) return [];
    const { codes, positions, length } = foldText(text);
    const found: number[] = []; // triples: start, end (folded positions, end exclusive), value
    const fail = this.#fail;
    const hasOutput = this.#hasOutput;
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
      if (!hasBit(hasOutput, state)) continue;
      // every value ending here: the output link, then the output links along its fail links
      for (let o = this.#outputLinkOf(state); o > 0; o = hasBit(hasOutput, fail[o]!) ? this.#outputLinkOf(fail[o]!) : 0) {
        const value = this.#outputValues[this.#outputIndex(o)]!;
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

  #outputLinkOf(node: number): number {
    return this.#outputLinks[this.#outputIndex(node)]!;
  }

  #outputIndex(node: number): number {
    const nodes = this.#outputNodes;
    let lo = 0;
    let hi = nodes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nodes[mid]! < node) lo = mid + 1;
      else hi = mid;
    }
    return lo;
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

function hasBit(bits: Uint32Array, n: number): boolean {
  return (bits[n >>> 5]! & (1 << (n & 31))) !== 0;
}

/**
 * The output links of the trie's nodes that have one, appended in ascending node
 * order while the trie is built, and for a node where a value ends, that value.
 * A node's link is set when it is created (a value ending there makes the link
 * the node itself), its value when it is expanded, later.
 */
class OutputTable {
  #nodes: Int32Array;
  #links: Int32Array;
  #values: Int32Array;
  #size = 0;

  constructor(capacity: number) {
    this.#nodes = new Int32Array(Math.max(16, capacity));
    this.#links = new Int32Array(this.#nodes.length);
    this.#values = new Int32Array(this.#nodes.length);
  }

  setValue(node: number, value: number): void {
    this.#values[this.#indexOf(node)] = value;
  }

  setLink(node: number, link: number): void {
    if (this.#size === this.#nodes.length) {
      const grow = (a: Int32Array) => {
        const b = new Int32Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.#nodes = grow(this.#nodes);
      this.#links = grow(this.#links);
      this.#values = grow(this.#values);
    }
    this.#nodes[this.#size] = node;
    this.#links[this.#size] = link;
    this.#values[this.#size] = -1;
    this.#size++;
  }

  linkOf(node: number): number {
    return this.#links[this.#indexOf(node)]!;
  }

  finish(): [Int32Array, Int32Array, Int32Array] {
    return [this.#nodes.slice(0, this.#size), this.#links.slice(0, this.#size), this.#values.slice(0, this.#size)];
  }

  #indexOf(node: number): number {
    let lo = 0;
    let hi = this.#size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const n = this.#nodes[mid]!;
      if (n === node) return mid;
      if (n < node) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
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
