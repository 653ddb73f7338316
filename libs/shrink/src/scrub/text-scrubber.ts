import type { KnownValueKind, KnownValueMatcher } from "./known-values.ts";
import { findPii, type PiiMatch } from "./pii-patterns.ts";
import { isReservedCard, isReservedEmail, isReservedPhone, type Pseudonyms } from "./pseudonyms.ts";

export interface TextScrubOptions {
  pseudonyms: Pseudonyms;
  /** Known PII values of the kept data (second pass). */
  known?: KnownValueMatcher;
  /**
   * Each email or phone replaced by pattern, with its pseudonym, so the caller
   * can feed KnownValues and the audit. Card numbers are not reported: every
   * card is found by pattern anyway.
   */
  onValue?: (kind: KnownValueKind, original: string, pseudonym: string) => void;
}

interface Edit {
  start: number;
  end: number;
  /** undefined: one of our own fakes, left as it is and shielded from known-value matches. */
  replacement: string | undefined;
}

/**
 * Free text with every email, phone and card number (by pattern) and every
 * known PII value (by the matcher) replaced by its pseudonym. Our own fakes are
 * left alone, so scrubbing twice changes nothing more; the one exception is a
 * pseudonym name that is also a known real name, which the matcher must replace.
 */
export function scrubText(text: string, options: TextScrubOptions): { text: string; replaced: number } {
  if (text === "") return { text, replaced: 0 };
  const edits: Edit[] = [];
  for (const match of findPii(text)) {
    if (match.kind === "email") {
      // "Ann Lee <ann@corp.com>": the display name is as personal as the address
      const name = displayNameBefore(text, match.start, edits.at(-1)?.end ?? 0);
      if (name !== undefined) {
        const fake = options.pseudonyms.person(name.value);
        options.onValue?.("person", name.value, fake);
        edits.push({ start: name.start, end: name.end, replacement: fake });
      }
    }
    const replacement = patternReplacement(match, options.pseudonyms);
    if (replacement !== undefined && match.kind !== "card") options.onValue?.(match.kind, match.value, replacement);
    edits.push({ start: match.start, end: match.end, replacement });
  }
  const merged = options.known ? withKnownValues(edits, options.known.find(text)) : edits;
  let out = "";
  let copied = 0;
  let replaced = 0;
  for (const edit of merged) {
    if (edit.replacement === undefined) continue;
    out += text.slice(copied, edit.start) + edit.replacement;
    copied = edit.end;
    replaced++;
  }
  return replaced === 0 ? { text, replaced } : { text: out + text.slice(copied), replaced };
}

const DISPLAY_NAME = /(?:^|[^\p{L}\p{M}'’.-])((?:[\p{Lu}][\p{L}\p{M}'’.-]*\s+){0,3}[\p{Lu}][\p{L}\p{M}'’.-]*)\s*"?\s*<$/u;
const ACRONYM = /^\p{Lu}{2,}/u;

/** The capitalised words (at most four) right before "<" that opens an email, as in a mail header. */
function displayNameBefore(text: string, emailStart: number, notBefore: number): { start: number; end: number; value: string } | undefined {
  const from = Math.max(notBefore, emailStart - 120);
  const before = text.slice(from, emailStart);
  const match = DISPLAY_NAME.exec(before);
  if (!match) return undefined;
  // "CC'd Ann Lee <…": a leading acronym is not part of the name
  const words = match[1]!.split(/\s+/);
  while (words.length > 1 && ACRONYM.test(words[0]!)) words.shift();
  const value = words.join(" ");
  if (ACRONYM.test(value) || value.length < 3) return undefined;
  const end = from + match.index + match[0].indexOf(match[1]!) + match[1]!.length;
  const start = end - value.length;
  return text.slice(start, end) === value ? { start, end, value } : undefined;
}

function patternReplacement(match: PiiMatch, pseudonyms: Pseudonyms): string | undefined {
  switch (match.kind) {
    case "email":
      return isReservedEmail(match.value) ? undefined : pseudonyms.email(match.value);
    case "phone":
      return isReservedPhone(match.value) ? undefined : pseudonyms.phone(match.value);
    case "card":
      return isReservedCard(match.value) ? undefined : pseudonyms.card(match.value);
  }
}

/** Pattern edits win: a known value overlapping one (a name inside an email address) is dropped. */
function withKnownValues(edits: Edit[], known: { start: number; end: number; replacement: string }[]): Edit[] {
  if (known.length === 0) return edits;
  const out: Edit[] = [];
  let e = 0;
  for (const k of known) {
    while (e < edits.length && edits[e]!.end <= k.start) out.push(edits[e++]!);
    const next = edits[e];
    if (next === undefined || k.end <= next.start) out.push(k);
  }
  while (e < edits.length) out.push(edits[e++]!);
  return out;
}
