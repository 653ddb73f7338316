import { describe, expect, it } from "vitest";
import type { Transform } from "../rules/rules-schema.ts";
import { detectKeyKind, scrubJson, scrubMapValues } from "./json-scrubber.ts";
import { KnownValues } from "./known-values.ts";
import { Pseudonyms } from "./pseudonyms.ts";

const p = new Pseudonyms(Buffer.from("json scrubber test secret 0123456789"));
const scrub = (value: unknown, extra: { paths?: Record<string, Transform>; auto?: boolean } = {}) =>
  JSON.parse(scrubJson(JSON.stringify(value), { pseudonyms: p, ...extra }).text) as unknown;

describe("detectKeyKind", () => {
  it("reads key names without case or separators", () => {
    const table: Record<string, string | undefined> = {
      email: "email", "E-Mail": "email", emailAddress: "email", contact_email: "email", mail: "email", workEmails: "email", email2: "email",
      phone: "phone", phoneNumber: "phone", mobile: "phone", tel: "phone", cell: "phone", home_phone: "phone", phones: "phone", fax: "phone",
      name: "person", fullName: "person", firstName: "person", last_name: "person", contactName: "person",
      address: "address", street: "address", addressLine1: "address", address_line_2: "address", addresses: "address",
      company: "company", companyName: "company", employer: "company",
      password: "redact", secret: "redact", token: "redact", apiKey: "redact", api_key: "redact", accessKey: "redact", credentials: "redact", ssn: "redact", clientSecret: "redact",
      cardNumber: "card",
      // not PII by name
      hotel: undefined, excel: undefined, emailSubject: undefined, ipAddress: undefined, mac_address: undefined, fileName: undefined, tokenCount: undefined, status: undefined, "": undefined,
    };
    for (const [key, kind] of Object.entries(table)) expect(detectKeyKind(key), key).toBe(kind);
  });
});

describe("scrubJson", () => {
  it("leaves a value that only its key calls an email or a phone (a field mapping), and reports nothing", () => {
    const seen: string[] = [];
    const mapping = { fieldMap: { email: "EMAIL", phone: "Phone", mobile: "n/a" }, contact: { mobile: "+44 20 7946 0958", phone: "ask ann@corp.com" } };
    const out = JSON.parse(scrubJson(JSON.stringify(mapping), { pseudonyms: p, onValue: (_k, original) => seen.push(original) }).text) as unknown;
    expect(out).toEqual({
      fieldMap: { email: "EMAIL", phone: "Phone", mobile: "n/a" },
      // not a phone, but still free text
      contact: { mobile: p.phone("+44 20 7946 0958"), phone: `ask ${p.email("ann@corp.com")}` },
    });
    expect(seen).toEqual(["+44 20 7946 0958", "ann@corp.com"]);
  });

  it("detects PII keys at any depth, in objects and arrays, numbers under phone keys included", () => {
    const out = scrub({
      id: 7,
      contact: { Name: "Ann Lee", "E-Mail": "ann@corp.com", phoneNumber: 4155550134, mobile: "+44 20 7946 0958" },
      contacts: [{ firstName: "Bob", emails: ["bob@corp.com", "b@corp.org"] }],
      company: "Acme Inc",
      billing: { addressLine1: "12 Baker Street", city: "London", zip: "NW1 6XE" },
      integration: { apiKey: "sk_live_123", credentials: { user: "svc", pass: "hunter2", port: 5432 } },
    });
    expect(out).toEqual({
      id: 7,
      contact: { Name: p.person("Ann Lee"), "E-Mail": p.email("ann@corp.com"), phoneNumber: Number(p.phoneDigits("4155550134")), mobile: p.phone("+44 20 7946 0958") },
      contacts: [{ firstName: p.person("Bob"), emails: [p.email("bob@corp.com"), p.email("b@corp.org")] }],
      company: p.company("Acme Inc"),
      billing: { addressLine1: p.address("12 Baker Street"), city: "London", zip: "NW1 6XE" },
      integration: { apiKey: "[redacted]", credentials: { user: "[redacted]", pass: "[redacted]", port: 0 } },
    });
  });

  it("scans every other string as free text, JSON inside a string as JSON, and object keys too", () => {
    const out = scrub({
      notes: "call +1 415 555 0134 or mail ann@corp.com",
      payload: JSON.stringify({ email: "c@corp.com", n: 1 }),
      byEmail: { "dan@corp.com": "admin" },
    }) as { notes: string; payload: string; byEmail: Record<string, string> };
    expect(out.notes).toBe(`call ${p.phone("+1 415 555 0134")} or mail ${p.email("ann@corp.com")}`);
    expect(JSON.parse(out.payload)).toEqual({ email: p.email("c@corp.com"), n: 1 });
    expect(out.byEmail).toEqual({ [p.email("dan@corp.com")]: "admin" });
  });

  it("replaces card numbers hiding in plain JSON numbers, leaving other numbers alone", () => {
    const out = scrubJson('{"ref": 4539148803436467, "id": 1234567890123456, "ts": 1700000000000, "test": 4111111111111111}', { pseudonyms: p });
    expect(out.text).toBe(`{"ref": ${p.card("4539148803436467")}, "id": 1234567890123456, "ts": 1700000000000, "test": 4111111111111111}`);
  });

  it("replaces known values in free text", () => {
    const known = new KnownValues();
    known.add("person", "Ann Lee", p.person("Ann Lee"));
    const out = scrubJson('{"note":"Ann Lee called"}', { pseudonyms: p, known: known.build() });
    expect(out).toEqual({ text: `{"note":"${p.person("Ann Lee")} called"}`, replaced: 1 });
    known.close();
  });

  it("changes only the replaced values: whitespace, key order, duplicates, escapes and number spellings stay", () => {
    const text = '{\n  "b": 1.0,\n  "2": 12345678901234567890,\n  "a": 1e5, "email" :  "a@corp.com",\n  "a": "\\u00e9t\\u00e9",\n  "x": [ ]\n}\n';
    const out = scrubJson(text, { pseudonyms: p });
    expect(out.replaced).toBe(1);
    expect(out.text).toBe(text.replace('"a@corp.com"', JSON.stringify(p.email("a@corp.com"))));
    const untouched = '{ "z": 1, "a": [true, false, null], "n": -0.5E-3 }';
    expect(scrubJson(untouched, { pseudonyms: p })).toEqual({ text: untouched, replaced: 0 });
  });

  it("applies explicit paths first, and they win over detection", () => {
    const doc = {
      billing: { contact: "Ann Lee", email: "ann@corp.com" },
      contacts: [{ phone: "415-555-0134", label: "Bob Roe" }, { phone: "020 7946 0958" }],
      meta: { email: "kept@corp.com" },
      secretish: { note: "x" },
      hashed: { s: "abc", n: 42 },
      gone: { deep: [1, 2] },
      label: "Bob Roe",
    };
    const out = scrub(doc, {
      paths: {
        "$.billing.contact": "person",
        "$.contacts[*].label": "person",
        "$.meta": "keep",
        "$.secretish": "redact",
        "$.hashed": "hash",
        "$.gone": "null",
      },
    });
    expect(out).toEqual({
      billing: { contact: p.person("Ann Lee"), email: p.email("ann@corp.com") },
      contacts: [{ phone: p.phone("415-555-0134"), label: p.person("Bob Roe") }, { phone: p.phone("020 7946 0958") }],
      meta: { email: "kept@corp.com" },
      secretish: { note: "[redacted]" },
      hashed: { s: p.hashText("abc"), n: Number(p.hashNumber(42n, 64, true)) },
      gone: null,
      label: "Bob Roe",
    });
  });

  it("hashes numbers as numbers while they fit 64 bits, exactly as written", () => {
    const out = scrubJson('{"n": 42, "big": 99999999999999999999, "f": 1.5}', { pseudonyms: p, paths: { "$.n": "hash", "$.big": "hash", "$.f": "hash" } });
    expect(out.text).toBe(`{"n": ${p.hashNumber(42n, 64, true)}, "big": "${p.hashText("99999999999999999999")}", "f": "${p.hashText("1.5")}"}`);
  });

  it("applies a more specific path inside a kept subtree", () => {
    expect(scrub({ meta: { email: "a@corp.com", owner: "Ann Lee" } }, { paths: { "$.meta": "keep", "$.meta.owner": "person" } })).toEqual({
      meta: { email: "a@corp.com", owner: p.person("Ann Lee") },
    });
  });

  it("scrubs JSON held in a string with its own paths ({ json: … }) and UDT-like objects ({ udt: … })", () => {
    const inner = JSON.stringify({ who: "Ann Lee", email: "a@corp.com" });
    const out = scrub({ raw: inner, addr: { street: "12 Baker St", city: "London", owner: "Ann Lee" } }, {
      paths: { "$.raw": { json: { paths: { "$.who": "person" } } }, "$.addr": { udt: { city: "keep", owner: "person" } } },
    }) as { raw: string; addr: unknown };
    expect(JSON.parse(out.raw)).toEqual({ who: p.person("Ann Lee"), email: p.email("a@corp.com") });
    expect(out.addr).toEqual({ street: p.address("12 Baker St"), city: "London", owner: p.person("Ann Lee") });
  });

  it("with auto off, only paths pick transforms, but strings are still scanned as free text", () => {
    expect(scrub({ name: "Ann Lee", note: "mail a@corp.com", who: "Bob" }, { auto: false, paths: { "$.who": "person" } })).toEqual({
      name: "Ann Lee",
      note: `mail ${p.email("a@corp.com")}`,
      who: p.person("Bob"),
    });
  });

  it("lets the value's shape beat the key's promise: an email under a name key stays an email", () => {
    expect(scrub({ name: "ann@corp.com" })).toEqual({ name: p.email("ann@corp.com") });
  });

  it("is idempotent on emails and phones (our fakes are left alone)", () => {
    const text = JSON.stringify({ email: "a@corp.com", phone: "+1 415 555 0134", tel: 4155550134, note: "b@corp.com" });
    const once = scrubJson(text, { pseudonyms: p }).text;
    expect(scrubJson(once, { pseudonyms: p })).toEqual({ text: once, replaced: 0 });
  });

  it("reports originals with their pseudonyms", () => {
    const seen: string[] = [];
    scrubJson(JSON.stringify({ email: "a@corp.com", name: "Ann Lee", note: "call 415-555-0134", tel: 4155550134, password: "x" }), {
      pseudonyms: p,
      onValue: (kind, original, fake) => seen.push(`${kind}|${original}|${fake}`),
    });
    expect(seen).toEqual([
      `email|a@corp.com|${p.email("a@corp.com")}`,
      `person|Ann Lee|${p.person("Ann Lee")}`,
      `phone|415-555-0134|${p.phone("415-555-0134")}`,
      `phone|4155550134|${p.phone("4155550134")}`,
    ]);
  });

  it("scrubs text that is not valid JSON as free text (fail closed)", () => {
    for (const text of ['{"email": "a@corp.com",}', "{'email': 'a@corp.com'}", 'email: a@corp.com', '{"a": "a@corp.com"} trailing', '"unterminated a@corp.com', '{"a": "tab\there a@corp.com"}']) {
      const out = scrubJson(text, { pseudonyms: p });
      expect(out.text, text).not.toContain("a@corp.com");
      expect(out.text, text).toContain(p.email("a@corp.com"));
    }
    expect(scrubJson("", { pseudonyms: p })).toEqual({ text: "", replaced: 0 });
  });

  it("falls back to free text when nesting is deeper than the stack", () => {
    const deep = `${"[".repeat(200_000)}"a@corp.com"${"]".repeat(200_000)}`;
    const out = scrubJson(deep, { pseudonyms: p });
    expect(out.text).toContain(p.email("a@corp.com"));
  });

  it("rejects a malformed path", () => {
    expect(() => scrubJson("{}", { pseudonyms: p, paths: { "a.b": "keep" } })).toThrow(/must start with/);
    expect(() => scrubJson("{}", { pseudonyms: p, paths: { "$..b": "keep" } })).toThrow(/not like/);
  });
});

describe("scrubMapValues", () => {
  it("treats a map<text, text> like a JSON object: keys say the kind, values are strings", () => {
    const { entries, replaced } = scrubMapValues(
      [
        ["Home phone", "020 7946 0958"],
        ["Personal email", "ann@corp.com"],
        ["notes", "VIP, call 415-555-0134"],
        ["extra", '{"name":"Ann Lee"}'],
        ["b@corp.com", "owner"],
        ["tier", "gold"],
      ],
      { pseudonyms: p },
    );
    expect(entries).toEqual([
      ["Home phone", p.phone("020 7946 0958")],
      ["Personal email", p.email("ann@corp.com")],
      ["notes", `VIP, call ${p.phone("415-555-0134")}`],
      ["extra", JSON.stringify({ name: p.person("Ann Lee") })],
      [p.email("b@corp.com"), "owner"],
      ["tier", "gold"],
    ]);
    expect(replaced).toBe(5);
  });

  it("honours paths on entries", () => {
    const { entries } = scrubMapValues([["email", "a@corp.com"], ["who", "Ann Lee"]], { pseudonyms: p, paths: { "$.email": "keep", "$.who": "person" } });
    expect(entries).toEqual([["email", "a@corp.com"], ["who", p.person("Ann Lee")]]);
  });
});
