export { normalizeEmail, normalizeName, normalizePhone } from "./normalize.ts";
export {
  EMAIL_DOMAINS,
  isReservedCard,
  isReservedEmail,
  isReservedPhone,
  PHONE_MARKER,
  Pseudonyms,
  withoutKeySuffix,
  type KeyOption,
} from "./pseudonyms.ts";
export { findPii, luhnValid, type PiiMatch, type PiiPatternKind } from "./pii-patterns.ts";
export {
  KnownValueMatcher,
  KnownValues,
  type KnownValueEntry,
  type KnownValueKind,
  type KnownValueMatch,
  type KnownValuesOptions,
} from "./known-values.ts";
export { scrubText, type TextScrubOptions } from "./text-scrubber.ts";
export { detectKeyKind, scrubJson, scrubMapValues, type DetectedKind, type JsonScrubOptions } from "./json-scrubber.ts";
