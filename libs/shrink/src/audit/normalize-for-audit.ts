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
      return words.length >= minNameLength ? `words:${words}` : undefined;
    }
  }
}
