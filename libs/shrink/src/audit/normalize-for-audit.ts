import { normalizeEmail, normalizeName, normalizePhone } from "../scrub/normalize.ts";

/** One normal form per PII kind, prefixed so an email and a name never meet in the filter. */
export function normalizeForAudit(kind: "email" | "phone" | "person" | "company" | "address", value: string): string {
  switch (kind) {
    case "email":
      return `email:${normalizeEmail(value)}`;
    case "phone":
      return `phone:${normalizePhone(value)}`;
    case "person":
    case "company":
    case "address":
      return `words:${normalizeName(value)}`;
  }
}
