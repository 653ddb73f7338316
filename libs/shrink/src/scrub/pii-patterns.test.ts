import { describe, expect, it } from "vitest";
import { findPii, luhnValid } from "./pii-patterns.ts";

const found = (text: string) => findPii(text).map((m) => `${m.kind}:${m.value}`);

describe("findPii", () => {
  it("finds emails with subdomains, plus tags and unicode, without a sentence's full stop", () => {
    expect(found("Write to Ann.Lee+crm@mail.corp.example.co.uk. Or bob_o'neil@corp.io, or josé@correo.es!")).toEqual([
      "email:Ann.Lee+crm@mail.corp.example.co.uk",
      "email:bob_o'neil@corp.io",
      "email:josé@correo.es",
    ]);
    expect(found("mailto:x@y.com;z@w.org 'quoted@corp.com'")).toEqual(["email:x@y.com", "email:z@w.org", "email:quoted@corp.com"]);
  });

  it("does not take an @ handle, a bare host or a version string for an email", () => {
    expect(found("ping @ann or user@localhost or git@1.2 or a@b.c or ann@corp..com")).toEqual([]);
  });

  it("finds phone numbers in international, North American and national formats", () => {
    expect(
      found(
        "Call (415) 555-0134, 415.555.0134, 415-555-0134, 1-415-555-0134, +1 415 555 0134, +14155550134, " +
          "+44 20 7946 0958, +44 (0)20 7946 0958, (+44) 20 7946 0958, 020 7946 0958, 01 23 45 67 89, (030) 1234 5678, +49 30 12345678.",
      ),
    ).toEqual([
      "phone:(415) 555-0134",
      "phone:415.555.0134",
      "phone:415-555-0134",
      "phone:1-415-555-0134",
      "phone:+1 415 555 0134",
      "phone:+14155550134",
      "phone:+44 20 7946 0958",
      "phone:+44 (0)20 7946 0958",
      "phone:(+44) 20 7946 0958",
      "phone:020 7946 0958",
      "phone:01 23 45 67 89",
      "phone:(030) 1234 5678",
      "phone:+49 30 12345678",
    ]);
  });

  it("stops a phone number before a number written after it", () => {
    expect(found("+44 20 7946 0958 2024-03-05")).toEqual(["phone:+44 20 7946 0958"]);
    expect(found("tel 415-555-0134 x 12")).toEqual(["phone:415-555-0134"]);
  });

  it("does not flag years, dates, times, ids, decimals, UUIDs, IPs, zip codes or money", () => {
    const text = [
      "year 2024, 1999-2001",
      "date 2024-03-05T10:30:00Z, 05/03/2024, 05.03.2024, 20240305",
      "time 10:30:45.123",
      "id 4155550134 and 1234567890123 and order #123-456-789",
      "unix 1700000000, ms 1700000000000",
      "pi 3.14159265358979, amount 1234567.89, $1,234,567.89",
      "uuid 123e4567-e89b-12d3-a456-426614174000",
      // digit groups that would pass Luhn as a card, inside a UUID
      "uuid 47745121-2536-4315-8690-9243ff0cadf9",
      "ip 192.168.100.200 and 10.0.0.1",
      "zip 94105-1234, version 10.4.2-1",
      "isbn 978-3-16-148410-0",
      "card-like but not Luhn 4111 1111 1111 1112, 13 digits 1234567890123",
    ].join("\n");
    expect(found(text)).toEqual([]);
  });

  it("finds Luhn-valid card numbers, grouped or not, and only whole groups", () => {
    expect(found("visa 4111 1111 1111 1111 exp 12/26, amex 3782-822463-10005, mc 5555555555554444, ref 12 4242424242424242 99")).toEqual([
      "card:4111 1111 1111 1111",
      "card:3782-822463-10005",
      "card:5555555555554444",
      "card:4242424242424242",
    ]);
    // inside a longer digit run it is not a card
    expect(found("x 94111111111111111113 x")).toEqual([]);
    // mixed separators: not one number
    expect(found("4111 1111-1111 1111")).toEqual([]);
  });

  it("reports matches in order and without overlaps: the email wins over the phone inside it", () => {
    const matches = findPii("sms 415-555-0134@txt.example.net or +1 415 555 0134");
    expect(matches.map((m) => m.kind)).toEqual(["email", "phone"]);
    for (const m of matches) expect(m.value).toBe("sms 415-555-0134@txt.example.net or +1 415 555 0134".slice(m.start, m.end));
  });

  it("recognises our own +999 fakes whole, however long", () => {
    expect(found("+999 123456789012345678 and +999-1234567890")).toEqual(["phone:+999 123456789012345678", "phone:+999-1234567890"]);
  });

  it("checks Luhn", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(luhnValid("4111111111111112")).toBe(false);
    expect(luhnValid("378282246310005")).toBe(true);
  });

  it("stays linear on 1 MB adversarial inputs", () => {
    const inputs = {
      letters: "a".repeat(1_000_000),
      atSigns: "a@".repeat(500_000),
      dotsAndAts: "@a.".repeat(333_334),
      digits: "1".repeat(1_000_000),
      spacedDigits: "4 ".repeat(500_000),
      dashedDigits: "5-".repeat(500_000),
      plusGroups: "+1 ".repeat(333_334),
      parens: "(0".repeat(500_000),
      trunkGroups: "0 12 ".repeat(200_000),
      decimals: "1.".repeat(500_000),
      longLocal: `${"a.".repeat(499_990)}@corp.com`,
      longDomain: `a@${"b.".repeat(499_990)}com`,
    };
    for (const [name, text] of Object.entries(inputs)) {
      const started = performance.now();
      findPii(text);
      const ms = performance.now() - started;
      expect(ms, `${name} took ${Math.round(ms)} ms`).toBeLessThan(1500);
    }
  });
});
