import { describe, expect, it } from "vitest";
import { KnownValues } from "./known-values.ts";
import { findPii } from "./pii-patterns.ts";
import { isReservedCard, Pseudonyms } from "./pseudonyms.ts";
import { scrubText } from "./text-scrubber.ts";

const pseudonyms = new Pseudonyms(Buffer.from("text scrubber test secret 0123456789"));

describe("scrubText", () => {
  it("replaces emails, phones and cards by pattern, leaving the rest of the text as it is", () => {
    const text = "Ann (ann.lee@corp.com, +1 415 555 0134) paid with 4242 4242 4242 4241? No: 4539 1488 0343 6467.";
    const { text: out, replaced } = scrubText(text, { pseudonyms });
    expect(replaced).toBe(3);
    expect(out).toContain(pseudonyms.email("ann.lee@corp.com"));
    expect(out).toContain(pseudonyms.phone("+1 415 555 0134"));
    expect(out).not.toContain("ann.lee@corp.com");
    expect(out).toContain("4242 4242 4242 4241"); // not Luhn-valid: not a card
    expect(out.startsWith("Ann (")).toBe(true);
    expect(out.endsWith(".")).toBe(true);
    for (const m of findPii(out)) if (m.kind === "card") expect(isReservedCard(m.value)).toBe(true);
  });

  it("replaces the display name in front of an address, as in a mail header", () => {
    const seen: string[] = [];
    const scrub = (text: string) => scrubText(text, { pseudonyms, onValue: (kind, value) => seen.push(`${kind}:${value}`) }).text;
    expect(scrub("CC'd Jin Fischer <jin@corp.com> from procurement.")).toBe(
      `CC'd ${pseudonyms.person("Jin Fischer")} <${pseudonyms.email("jin@corp.com")}> from procurement.`,
    );
    expect(scrub(`To: "José María García" <jm@corp.es>`)).toBe(`To: "${pseudonyms.person("José María García")}" <${pseudonyms.email("jm@corp.es")}>`);
    expect(seen).toEqual(["person:Jin Fischer", "email:jin@corp.com", "person:José María García", "email:jm@corp.es"]);
    // no name, or not a header: nothing more than the address
    expect(scrub("send to <ann@corp.com>")).toBe(`send to <${pseudonyms.email("ann@corp.com")}>`);
    expect(scrub("FYI <ann@corp.com>")).toBe(`FYI <${pseudonyms.email("ann@corp.com")}>`);
    expect(scrub("Ann, ann@corp.com")).toBe(`Ann, ${pseudonyms.email("ann@corp.com")}`);
  });

  it("replaces known values, but never inside a pattern match", () => {
    const known = new KnownValues();
    known.add("person", "Ann Lee", "Mia Cole");
    known.add("person", "ann", "Zoe");
    const out = scrubText("Ann Lee wrote from ann@corp.com", { pseudonyms, known: known.build() }).text;
    expect(out).toBe(`Mia Cole wrote from ${pseudonyms.email("ann@corp.com")}`);
    known.close();
  });

  it("is idempotent: our own fakes are left alone", () => {
    const known = new KnownValues();
    known.add("person", "Ann Lee", pseudonyms.person("Ann Lee"));
    const options = { pseudonyms, known: known.build() };
    const once = scrubText("Call Ann Lee at 020 7946 0958 or ann@corp.com, card 5105 1051 0510 5100 / 4000 0566 5566 5556", options).text;
    const twice = scrubText(once, options);
    expect(twice.text).toBe(once);
    expect(twice.replaced).toBe(0);
    expect(scrubText("mail qa@example.com or +999 12345678", { pseudonyms }).replaced).toBe(0);
    known.close();
  });

  it("reports each email and phone it replaced, with its pseudonym", () => {
    const seen: string[] = [];
    scrubText("a@corp.com 415-555-0134 4111 1111 1111 1111", { pseudonyms, onValue: (kind, original, fake) => seen.push(`${kind}:${original}:${fake}`) });
    expect(seen).toEqual([`email:a@corp.com:${pseudonyms.email("a@corp.com")}`, `phone:415-555-0134:${pseudonyms.phone("415-555-0134")}`]);
  });

  it("returns the same string when nothing is found", () => {
    const text = "nothing to see: 2024-03-05, order 12345";
    expect(scrubText(text, { pseudonyms })).toEqual({ text, replaced: 0 });
  });
});
