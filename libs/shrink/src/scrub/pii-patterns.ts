import { isWordCode } from "./char-tables.ts";

export type PiiPatternKind = "email" | "phone" | "card";

export interface PiiMatch {
  kind: PiiPatternKind;
  start: number;
  end: number;
  value: string;
}

/**
 * Emails, phone numbers and payment card numbers in free text, in order and not
 * overlapping. Linear time whatever the input: emails are found from each "@"
 * outwards by hand; the phone and card regexes have no nested ambiguity, so a
 * failed attempt costs a bounded number of steps.
 *
 * Deliberately not flagged: bare digit runs without "+" or separators
 * ("4155550134" could as well be an id or a Unix time), 7-digit local numbers,
 * and card-length numbers that fail the Luhn check or start like no card.
 */
export function findPii(text: string): PiiMatch[] {
  const matches: PiiMatch[] = [];
  if (text.includes("@")) findEmails(text, matches);
  if (hasDigits(text, 7)) {
    findPhones(text, matches);
    findCards(text, matches);
  }
  return withoutOverlaps(matches);
}

// ---- emails ----------------------------------------------------------------

function findEmails(text: string, out: PiiMatch[]): void {
  // each character is scanned at most twice (backwards from the next "@", forwards
  // from the previous one): neither scan crosses an "@"
  for (let at = text.indexOf("@"); at >= 0; at = text.indexOf("@", at + 1)) {
    let start = at;
    while (start > 0 && isLocalCode(text.charCodeAt(start - 1))) start--;
    // a local part does not start with "."; a leading "'" is a quotation mark
    while (start < at && (text.charCodeAt(start) === 0x2e || text.charCodeAt(start) === 0x27)) start++;
    if (start === at) continue;
    let end = at + 1;
    while (end < text.length && isDomainCode(text.charCodeAt(end))) end++;
    // a sentence's full stop or a dash after the address is not part of it
    while (end > at + 1 && (text.charCodeAt(end - 1) === 0x2e || text.charCodeAt(end - 1) === 0x2d)) end--;
    const domain = text.slice(at + 1, end);
    const dot = domain.lastIndexOf(".");
    if (dot <= 0 || domain.includes("..")) continue;
    const tld = domain.slice(dot + 1);
    if (!/^(?:\p{L}{2,}|xn--[a-z0-9-]+)$/iu.test(tld)) continue;
    out.push({ kind: "email", start, end, value: text.slice(start, end) });
  }
}

function isLocalCode(code: number): boolean {
  if (code < 0x80) return isAsciiAlnum(code) || code === 0x2e || code === 0x5f || code === 0x25 || code === 0x2b || code === 0x2d || code === 0x27; // . _ % + - '
  return isWordCode(code);
}

function isDomainCode(code: number): boolean {
  if (code < 0x80) return isAsciiAlnum(code) || code === 0x2e || code === 0x2d;
  return isWordCode(code);
}

function isAsciiAlnum(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

// ---- phones ----------------------------------------------------------------

// Not glued to a word, an address, a decimal, a date or another number.
const BEFORE = String.raw`(?<![\p{L}\p{N}_+@.\-\/])`;
const AFTER = String.raw`(?![\p{L}\p{N}_@]|[.\-\/:]\p{N})`;
const PHONE = new RegExp(
  BEFORE +
    "(?:" +
    // our own pseudonyms, whole, however long, so the scrubber can leave them alone
    String.raw`(?<reserved>\+999[ \-]\d{4,40})` +
    // international: +CC then groups with separators; "(0)" trunk marker allowed
    String.raw`|(?<intl>\(?\+\d{1,15}\)?(?:(?:[ .\-]?\(\d{1,4}\)[ .\-]?|[ .\-])\d{1,12}){0,7})` +
    // North American: (415) 555-0134, 415.555.0134, 1-415-555-0134 (area code and exchange start 2-9)
    String.raw`|(?<nanp>(?:1[ .\-]?)?(?:\([2-9]\d{2}\)[ .\-]?|[2-9]\d{2}[ .\-])[2-9]\d{2}[ .\-]\d{4})` +
    // national with a trunk 0: 020 7946 0958, 01-23-45-67-89, (030) 1234 5678 (one separator throughout)
    String.raw`|(?<national>0\d{1,4}(?<sep>[ \-])\d{2,8}(?:\k<sep>\d{2,8}){0,4}|\(0\d{1,4}\) ?\d{2,8}(?:[ \-]\d{2,8}){0,3})` +
    ")" +
    AFTER,
  "gu",
);
// E.164 numbers have at most 15 digits
const MAX_PHONE_DIGITS = 15;

function findPhones(text: string, out: PiiMatch[]): void {
  PHONE.lastIndex = 0;
  for (let m = PHONE.exec(text); m !== null; m = PHONE.exec(text)) {
    const groups = m.groups ?? {};
    let value = m[0];
    let accepted = true;
    if (groups.intl !== undefined) {
      // a number written after the phone ("+44 20 7946 0958 2024") is not part of it
      while (countDigits(value) > MAX_PHONE_DIGITS) {
        const cut = Math.max(value.lastIndexOf(" "), value.lastIndexOf("-"), value.lastIndexOf("."));
        if (cut <= 0) break;
        value = value.slice(0, cut).replace(/[ .\-(]+$/, "");
      }
      const digits = countDigits(value);
      accepted = digits >= 8 && digits <= MAX_PHONE_DIGITS;
    } else if (groups.national !== undefined) {
      const digits = countDigits(value);
      accepted = digits >= 9 && digits <= 12;
    }
    if (accepted) {
      out.push({ kind: "phone", start: m.index, end: m.index + value.length, value });
    } else {
      PHONE.lastIndex = m.index + 1; // something shorter may still start inside
    }
  }
}

// ---- cards -----------------------------------------------------------------

// A run of digits with single spaces or dashes between them; cards are picked out of it by group.
// A dash glued to more letters or digits continues an identifier (a UUID's "47745121-2536-…-9243ff…"), not a card.
const DIGIT_RUN = /(?<![\p{L}\p{N}_.\-+\/])\d(?:[ \-]?\d)*(?![\p{L}\p{N}_]|-[\p{L}\p{N}])/gu;

function findCards(text: string, out: PiiMatch[]): void {
  DIGIT_RUN.lastIndex = 0;
  for (let m = DIGIT_RUN.exec(text); m !== null; m = DIGIT_RUN.exec(text)) {
    if (m[0].length >= 13) cardsInRun(m[0], m.index, out);
  }
}

/**
 * Cards are 13 to 19 digits in whole separator-delimited groups, one separator
 * kind, a card-like prefix and a valid Luhn check digit; the longest wins.
 * Luhn sums run along as each digit is added, so a long run costs O(run × 19).
 */
function cardsInRun(run: string, offset: number, out: PiiMatch[]): void {
  const starts: number[] = [];
  const ends: number[] = [];
  for (let i = 0; i < run.length; i++) {
    if (run.charCodeAt(i) < 0x30) continue;
    starts.push(i);
    while (i + 1 < run.length && run.charCodeAt(i + 1) >= 0x30) i++;
    ends.push(i + 1);
  }
  for (let first = 0; first < starts.length; ) {
    const best = longestCardFrom(run, starts, ends, first);
    if (best < 0) {
      first++;
      continue;
    }
    out.push({ kind: "card", start: offset + starts[first]!, end: offset + ends[best]!, value: run.slice(starts[first]!, ends[best]) });
    first = best + 1;
  }
}

function longestCardFrom(run: string, starts: number[], ends: number[], first: number): number {
  const separator = run.charCodeAt(ends[first]!);
  // sums of the digits at even / odd positions from the start, plain and Luhn-doubled
  let plainEven = 0, plainOdd = 0, doubledEven = 0, doubledOdd = 0;
  let prefix = 0; // the first four digits, for the issuer check
  let count = 0;
  let best = -1;
  for (let g = first; g < starts.length; g++) {
    if (g > first && run.charCodeAt(starts[g]! - 1) !== separator) break; // mixed separators
    for (let i = starts[g]!; i < ends[g]!; i++) {
      const d = run.charCodeAt(i) - 48;
      const twice = d > 4 ? 2 * d - 9 : 2 * d;
      if ((count & 1) === 0) {
        plainEven += d;
        doubledEven += twice;
      } else {
        plainOdd += d;
        doubledOdd += twice;
      }
      if (count < 4) prefix = prefix * 10 + d;
      count++;
    }
    if (count > 19) break;
    if (count >= 4 && !startsLikeCard(prefix)) return -1;
    // the last digit is never doubled: the positions of the other parity are
    const sum = ((count - 1) & 1) === 0 ? plainEven + doubledOdd : plainOdd + doubledEven;
    if (count >= 13 && sum % 10 === 0) best = g;
  }
  return best;
}

/** Issuer prefixes (first four digits): Visa, Mastercard, Amex, Diners, JCB, Discover, UnionPay, Maestro. */
function startsLikeCard(four: number): boolean {
  const one = Math.floor(four / 1000);
  const two = Math.floor(four / 100);
  return one === 4 || one === 6 || (two >= 50 && two <= 55) || (four >= 2221 && four <= 2720) || two === 30 || (two >= 34 && two <= 39);
}

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

// ---- shared ----------------------------------------------------------------

function hasDigits(text: string, wanted: number): boolean {
  let seen = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39 && ++seen >= wanted) return true;
  }
  return false;
}

function countDigits(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) n++;
  }
  return n;
}

const PRIORITY: Record<PiiPatternKind, number> = { email: 0, card: 1, phone: 2 };

/** Leftmost first; at the same start the longest; an email beats a card beats a phone. */
function withoutOverlaps(matches: PiiMatch[]): PiiMatch[] {
  if (matches.length < 2) return matches;
  matches.sort((a, b) => a.start - b.start || b.end - a.end || PRIORITY[a.kind] - PRIORITY[b.kind]);
  const out: PiiMatch[] = [];
  let end = -1;
  for (const m of matches) {
    if (m.start < end) continue;
    out.push(m);
    end = m.end;
  }
  return out;
}
