/**
 * Normal forms that key pseudonyms and the audit's filter, so one person written
 * two ways ("Ann@Corp.com " / "ann@corp.com") gets one pseudonym and is found by the audit.
 */

const NON_ASCII = /[^\u0000-\u007f]/;

/** Trimmed and lower-cased (local parts are case-insensitive in practice). */
export function normalizeEmail(value: string): string {
  return value.trim().toLowerCase();
}

/**
 * Digits only, a leading country code kept as digits: "+1 (415) 555-0134" → "14155550134".
 * A leading "00" (the international call prefix) counts as "+", and the "(0)" trunk marker of
 * "+44 (0)20 …" is dropped, so those spellings meet their "+" form. No country is
 * inferred: "(415) 555-0134" stays "4155550134".
 */
export function normalizePhone(value: string): string {
  // fullwidth and other compatibility digits become ASCII digits
  const text = NON_ASCII.test(value) ? value.normalize("NFKC") : value;
  const digits = text.replace(/\(0\)/g, "").replace(/\D+/g, "");
  // only where what follows is long enough to be an international number (country code + 7 or more)
  if (digits.length >= 10 && digits.startsWith("00") && digits[2] !== "0" && !text.includes("+")) return digits.slice(2);
  return digits;
}

/** Trimmed, whitespace collapsed, lower-cased, accents stripped: " José  García" → "jose garcia". */
export function normalizeName(value: string): string {
  const text = NON_ASCII.test(value) ? value.normalize("NFKD").replace(/\p{M}+/gu, "") : value;
  return text.trim().replace(/\s+/g, " ").toLowerCase();
}

/** Fewer digits than any real subscriber number: "12" or a year is not a phone. */
const minPhoneDigits = 7;

/** Whether a value can be a phone number at all (a key named "phone" may hold "Phone", a field name). */
export function isPlausiblePhone(value: string): boolean {
  return normalizePhone(value).length >= minPhoneDigits;
}

/** Whether a value can be an email address at all. */
export function isPlausibleEmail(value: string): boolean {
  return value.includes("@");
}
