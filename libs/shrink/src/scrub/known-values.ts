import { foldCode, isWordCode, SKIP } from "./char-tables.ts";
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
  /** Values shorter than this (after folding) are ignored: too likely to be ordinary words. Default 3. */
  minLength?: number;
}

/**
 * PII values met in the kept data (first pass), each with its pseudonym, to be
 * replaced wherever free text mentions them (second pass). Matching folds case,
 * accents and runs of whitespace, and only takes whole words: "Ann" is found in
 * "ann's" but not in "Annual".
 */
export class KnownValues {
  readonly #minLength: number;
  // folded value → index into kinds / replacements
  readonly #index = new Map<string, number>();
  readonly #kinds: KnownValueKind[] = [];
  readonly #replacements: string[] = [];

  constructor(options: KnownValuesOptions = {}) {
    this.#minLength = Math.max(1, options.minLength ?? 3);
  }

  get size(): number {
    return this.#kinds.length;
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
    for (const [folded, id] of this.#index) yield [this.#kinds[id]!, folded, this.#replacements[id]!];
  }

  /** Adds an entry of another instance's entries(); the same pseudonym wins as with add, whatever the order. */
  addFolded(kind: KnownValueKind, folded: string, replacement: string): boolean {
    return this.#put(kind, folded, replacement);
  }

  #put(kind: KnownValueKind, folded: string, replacement: string): boolean {
    if (folded.length < this.#minLength) return false;
    const existing = this.#index.get(folded);
    if (existing !== undefined) {
      const current = this.#replacements[existing]!;
      if (replacement !== current && (replacement.length < current.length || (replacement.length === current.length && replacement < current))) {
        this.#replacements[existing] = replacement;
        this.#kinds[existing] = kind;
      }
      return false;
    }
    this.#index.set(folded, this.#kinds.length);
    this.#kinds.push(kind);
    this.#replacements.push(replacement);
    return true;
  }

  /** An Aho–Corasick automaton over the values added so far. */
  build(): KnownValueMatcher {
    const patterns = [...this.#index.keys()].sort();
    const ids = patterns.map((p) => this.#index.get(p)!);
    return new KnownValueMatcher(
      patterns,
      ids.map((id) => this.#kinds[id]!),
      ids.map((id) => this.#replacements[id]!),
    );
  }
}

/**
 * Finds every known value in a text in one pass over it. Where occurrences
 * overlap, the leftmost wins, and of those the longest ("Ann Lee" over "Ann").
 */
export class KnownValueMatcher {
  readonly size: number;
  readonly #kinds: KnownValueKind[];
  readonly #replacements: string[];
  readonly #lengths: Int32Array;
  // whether a pattern starts / ends with a word character (then it needs a word boundary there)
  readonly #wordEdges: Uint8Array;
  // the trie in BFS order: node n's children are firstChild[n] .. firstChild[n] + childCount[n] - 1, sorted by edge label
  readonly #firstChild: Int32Array;
  readonly #childCount: Int32Array;
  readonly #label: Uint16Array;
  readonly #fail: Int32Array;
  /** Pattern ending exactly at the node, or -1. */
  readonly #output: Int32Array;
  /** Nearest node along the fail chain that has an output, or 0. */
  readonly #nextOutput: Int32Array;
  /** The root's transitions as a direct table: most steps of a search start at the root. */
  readonly #rootNext: Int32Array;

  constructor(sortedPatterns: readonly string[], kinds: KnownValueKind[], replacements: string[]) {
    this.size = sortedPatterns.length;
    this.#kinds = kinds;
    this.#replacements = replacements;
    this.#lengths = Int32Array.from(sortedPatterns, (p) => p.length);
    this.#wordEdges = Uint8Array.from(sortedPatterns, (p) => (isWordCode(p.charCodeAt(0)) ? 1 : 0) | (isWordCode(p.charCodeAt(p.length - 1)) ? 2 : 0));

    const capacity = sortedPatterns.reduce((n, p) => n + p.length, 1);
    const firstChild = new Int32Array(capacity);
    const childCount = new Int32Array(capacity);
    const label = new Uint16Array(capacity);
    const fail = new Int32Array(capacity);
    const output = new Int32Array(capacity).fill(-1);
    const nextOutput = new Int32Array(capacity);
    // while building: the range of sorted patterns under each node, and its depth
    const low = new Int32Array(capacity);
    const high = new Int32Array(capacity);
    const depth = new Int32Array(capacity);
    high[0] = sortedPatterns.length;
    let nodes = 1;
    for (let node = 0; node < nodes; node++) {
      let lo = low[node]!;
      const hi = high[node]!;
      const d = depth[node]!;
      // sorted, so a pattern that ends here comes before its extensions
      if (lo < hi && sortedPatterns[lo]!.length === d) output[node] = lo++;
      firstChild[node] = nodes;
      while (lo < hi) {
        const code = sortedPatterns[lo]!.charCodeAt(d);
        let end = lo + 1;
        while (end < hi && sortedPatterns[end]!.charCodeAt(d) === code) end++;
        const child = nodes++;
        label[child] = code;
        low[child] = lo;
        high[child] = end;
        depth[child] = d + 1;
        childCount[node]!++;
        lo = end;
      }
      // fail links of the new children: every shallower node already has its children
      for (let child = firstChild[node]!; child < nodes; child++) {
        let target = 0;
        if (node !== 0) {
          for (let f = fail[node]!; ; f = fail[f]!) {
            const next = step(firstChild, childCount, label, f, label[child]!);
            if (next >= 0) {
              target = next;
              break;
            }
            if (f === 0) break;
          }
        }
        fail[child] = target;
        nextOutput[child] = output[target]! >= 0 ? target : nextOutput[target]!;
      }
    }
    this.#firstChild = firstChild.slice(0, nodes);
    this.#childCount = childCount.slice(0, nodes);
    this.#label = label.slice(0, nodes);
    this.#fail = fail.slice(0, nodes);
    this.#output = output.slice(0, nodes);
    this.#nextOutput = nextOutput.slice(0, nodes);
    this.#rootNext = new Int32Array(0x10000).fill(-1);
    for (let c = firstChild[0]!; c < firstChild[0]! + childCount[0]!; c++) this.#rootNext[label[c]!] = c;
  }

  /** Occurrences of known values, leftmost-longest, not overlapping, in text order. */
  find(text: string): KnownValueMatch[] {
    if (this.size === 0 || text.length === 0) return [];
    const { codes, positions, length } = foldText(text);
    const found: number[] = []; // triples: start, end (folded positions, end exclusive), pattern
    let state = 0;
    for (let i = 0; i < length; i++) {
      const code = codes[i]!;
      for (;;) {
        const next = state === 0 ? this.#rootNext[code]! : step(this.#firstChild, this.#childCount, this.#label, state, code);
        if (next >= 0) {
          state = next;
          break;
        }
        if (state === 0) break;
        state = this.#fail[state]!;
      }
      for (let o = this.#output[state]! >= 0 ? state : this.#nextOutput[state]!; o > 0; o = this.#nextOutput[o]!) {
        const pattern = this.#output[o]!;
        found.push(i + 1 - this.#lengths[pattern]!, i + 1, pattern);
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
      const pattern = found[f + 2]!;
      if (start < taken) continue;
      const from = positions[start]!;
      let to = positions[end - 1]! + 1;
      // a decomposed accent after the last letter belongs to the match
      while (to < text.length && foldCode(text.charCodeAt(to)) === SKIP) to++;
      const edges = this.#wordEdges[pattern]!;
      if (edges & 1 && from > 0 && isWordCode(text.charCodeAt(from - 1))) continue;
      if (edges & 2 && to < text.length && isWordCode(text.charCodeAt(to))) continue;
      out.push({ kind: this.#kinds[pattern]!, start: from, end: to, replacement: this.#replacements[pattern]! });
      taken = end;
    }
    return out;
  }
}

function step(firstChild: Int32Array, childCount: Int32Array, label: Uint16Array, node: number, code: number): number {
  let lo = firstChild[node]!;
  let hi = lo + childCount[node]! - 1;
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
