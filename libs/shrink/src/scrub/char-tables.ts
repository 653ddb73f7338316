/**
 * Per-UTF-16-code-unit tables, filled lazily: one Unicode-aware decision per
 * distinct code unit instead of one per character of text.
 */

const UNKNOWN = -2;
/** Fold result for a code unit that matching ignores (combining marks). */
export const SKIP = -1;

const foldTable = new Int32Array(0x10000).fill(UNKNOWN);
const wordTable = new Int8Array(0x10000).fill(UNKNOWN);

/**
 * Case- and accent-folded code unit: "É" → "e", "Ａ" → "a", any whitespace → " ",
 * a combining mark → SKIP. A character whose fold is not one code unit ("ß", "ﬁ")
 * folds to its own lower case, so folding never changes positions.
 */
export function foldCode(code: number): number {
  let folded = foldTable[code]!;
  if (folded === UNKNOWN) {
    folded = computeFold(code);
    foldTable[code] = folded;
  }
  return folded;
}

function computeFold(code: number): number {
  if (code < 0x80) return code >= 0x41 && code <= 0x5a ? code + 32 : code === 9 || code === 10 || code === 11 || code === 12 || code === 13 ? 32 : code;
  if (code >= 0xd800 && code <= 0xdfff) return code; // surrogate halves: kept as they are
  const char = String.fromCharCode(code);
  if (/\p{M}/u.test(char)) return SKIP;
  if (/\s/.test(char)) return 32;
  const lower = char.toLowerCase();
  const base = lower.length === 1 ? lower : char;
  const stripped = base.normalize("NFKD").replace(/\p{M}+/gu, "").toLowerCase();
  return stripped.length === 1 ? stripped.charCodeAt(0) : base.charCodeAt(0);
}

/** Letters, digits, combining marks and "_": what a whole-word match may not touch. */
export function isWordCode(code: number): boolean {
  let word = wordTable[code]!;
  if (word === UNKNOWN) {
    word = code >= 0xd800 && code <= 0xdfff ? 0 : /[\p{L}\p{N}\p{M}_]/u.test(String.fromCharCode(code)) ? 1 : 0;
    wordTable[code] = word;
  }
  return word === 1;
}
