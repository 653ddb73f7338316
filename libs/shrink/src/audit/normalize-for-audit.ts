import { isPlausibleEmail, isPlausiblePhone, normalizeEmail, normalizeName, normalizePhone } from "../scrub/normalize.ts";

/** Shorter names ("Al", "Li") are words of every language; they would flag innocent text. */
const minNameLength = 4;

/**
 * One normal form per PII kind, prefixed so an email and a name never meet in the
 * filter; `undefined` when the value is too weak to identify anyone (an email
 * without "@", a phone of a few digits, a two-letter name), so that neither the
 * filter nor the audit ever matches on it.
 */
export function normalizeForAudit(kind: "email" | "phone" | "person" | "company" | "address", value: string): string | undefined {
  switch (kind) {
    case "email":
      return isPlausibleEmail(value) ? `email:${normalizeEmail(value)}` : undefined;
    case "phone":
      return isPlausiblePhone(value) ? `phone:${normalizePhone(value)}` : undefined;
    case "person":
    case "company":
    case "address": {
      const words = normalizeName(value);
      return words.length >= minNameLength ? `${wordsPrefix}${words}` : undefined;
    }
  }
}

/**
 * The keys the source filter takes for a value: its normal form and, for a run
 * of words, `first:` and its first word. The audit tests a word against the
 * latter before it builds the runs that start there, so text where no source
 * name starts costs one probe a word instead of three.
 */
export function auditKeysOf(kind: "email" | "phone" | "person" | "company" | "address", value: string): string[] {
  const key = normalizeForAudit(kind, value);
  if (key === undefined) return [];
  const space = key.startsWith(wordsPrefix) ? key.indexOf(" ") : -1;
  return space < 0 ? [key] : [key, firstWordKey(key.slice(wordsPrefix.length, space))];
}

/** The pre-filter key of a normalised word that may start a run of source words. */
export function firstWordKey(word: string): string {
  return `first:${word}`;
}

const wordsPrefix = "words:";
