import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { luhnValid } from "./pii-patterns.ts";
import { isReservedCard, isReservedEmail, isReservedPhone, Pseudonyms, withoutKeySuffix } from "./pseudonyms.ts";

const secret = Buffer.from("0123456789abcdef0123456789abcdef");
const p = new Pseudonyms(secret);
const other = new Pseudonyms(Buffer.from("another secret, at least 16 bytes"));

// Uncontended this machine does ~350k/s for email and phone; the assertions only guard
// against an order-of-magnitude regression (say createHmac per value), because the
// test may share two cores with other suites.
const MIN_PER_SECOND = 40_000;

/** Runs `make` for 0..n-1 into an array; reports values per second of the generation alone. */
function generate(n: number, make: (i: number) => string): { outputs: string[]; perSecond: number } {
  for (let i = 0; i < 20_000; i++) make(i); // warm the JIT
  const outputs = new Array<string>(n);
  const started = performance.now();
  for (let i = 0; i < n; i++) outputs[i] = make(i);
  const perSecond = Math.round(n / ((performance.now() - started) / 1000));
  return { outputs, perSecond };
}

describe("Pseudonyms", () => {
  it("is deterministic across calls and instances, normalises first, and depends on the secret", () => {
    const again = new Pseudonyms(Buffer.from(secret));
    expect(p.email("Ann.Lee@Corp.com ")).toBe(again.email("ann.lee@corp.com"));
    expect(p.phone("+1 (415) 555-0134")).toBe(again.phone("+1.415.555.0134"));
    expect(p.person(" José  García")).toBe(again.person("jose garcia"));
    expect(p.company("ACME  Inc")).toBe(p.company("acme inc"));
    expect(p.address("12 Baker St")).toBe(p.address("12  baker st"));
    expect(p.email("ann.lee@corp.com")).not.toBe(other.email("ann.lee@corp.com"));
    expect(p.phone("+14155550134")).not.toBe(other.phone("+14155550134"));
    expect(p.hashText("x")).not.toBe(other.hashText("x"));
  });

  it("never puts the secret in an output", () => {
    const outputs = [p.email("a@b.co"), p.person("Ann Lee", { key: true }), p.hashText("x"), p.hashBytes(Buffer.from("x"), 64).toString("latin1")];
    for (const out of outputs) {
      expect(out).not.toContain(secret.toString());
      expect(out).not.toContain(secret.toString("hex"));
    }
  });

  it("rejects a secret shorter than 16 bytes", () => {
    expect(() => new Pseudonyms(Buffer.from("short"))).toThrow(/at least 16 bytes/);
  });

  it("computes HMAC-SHA-256 exactly (pinned against node:crypto, long and non-ASCII input included)", () => {
    const key = createHmac("sha256", secret).update("devenv/pseudonyms/v1/hash-text").digest();
    for (const value of ["", "x", "ünïcödé ✓", "long ".repeat(500)]) {
      expect(p.hashText(value)).toBe(createHmac("sha256", key).update(value).digest("hex").slice(0, 32));
    }
  });

  it("makes emails on reserved domains with at least 60 bits of hash", () => {
    const fake = p.email("ann.lee@corp.com");
    expect(fake).toMatch(/^[a-z]+\.[a-z]+\.[a-z2-7]{13}@example\.(com|net|org)$/);
    expect(isReservedEmail(fake)).toBe(true);
    // the key option changes nothing: emails are always collision-resistant, so key and plain columns still join
    expect(p.email("ann.lee@corp.com", { key: true })).toBe(fake);
    expect(p.email("")).toBe("");
  });

  it("makes phone numbers under the unassigned +999 code, as a permutation of the digits", () => {
    const fake = p.phone("+1 (415) 555-0134");
    expect(fake).toMatch(/^\+999 \d{11}$/);
    expect(isReservedPhone(fake)).toBe(true);
    expect(p.phoneInverseForTests(fake)).toBe("14155550134");
    expect(p.phoneDigits("+1 (415) 555-0134")).toBe(`999${fake.slice(5)}`);
    // fewer than 4 digits: hashed, in a shape no permuted number has
    expect(p.phone("ext. 12")).toMatch(/^\+999-\d{10}$/);
    expect(p.phone("ext. 12")).not.toBe(p.phone("room 12"));
    expect(p.phone("   ")).toBe("   ");
    // a 45-digit string takes the BigInt path and still inverts
    const long = "9".repeat(20) + "0123456789012345678901234";
    expect(p.phoneInverseForTests(p.phone(long))).toBe(long);
  });

  it("permutes all 4- and 5-digit strings (exhaustive bijection)", () => {
    for (const length of [4, 5]) {
      const seen = new Set<string>();
      for (let i = 0; i < 10 ** length; i++) {
        const digits = String(i).padStart(length, "0");
        const fake = p.phone(digits);
        expect(fake.length).toBe(5 + length);
        seen.add(fake);
      }
      expect(seen.size).toBe(10 ** length);
    }
  });

  it("makes names, companies and addresses from word lists, with a 50-bit suffix in key mode", () => {
    expect(p.person("Ann Lee")).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+$/);
    expect(p.person("Ann")).toMatch(/^[A-Z][a-z]+$/);
    expect(p.company("Acme Inc")).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+ [A-Z][A-Za-z ]+$/);
    expect(p.address("12 Baker Street")).toMatch(/^\d{1,4} [A-Z][a-z]+ [A-Z][a-z]+$/);
    const keyed = p.person("Ann Lee", { key: true });
    expect(keyed).toMatch(/^[A-Z][a-z]+ [A-Z][a-z]+ [a-z2-7]{10}$/);
    expect(withoutKeySuffix(keyed)).toBe(p.person("Ann Lee"));
    expect(withoutKeySuffix(p.company("Acme", { key: true }))).toBe(p.company("Acme"));
    expect(p.person("")).toBe("");
  });

  it("hashes text to 32 hex characters and bytes to the requested length", () => {
    expect(p.hashText("abc")).toMatch(/^[0-9a-f]{32}$/);
    expect(p.hashText("abc")).not.toBe(p.hashText("ABC"));
    const bytes = p.hashBytes(Buffer.from("payload"), 100);
    expect(bytes.length).toBe(100);
    expect(p.hashBytes(Buffer.from("payload"), 16)).toEqual(bytes.subarray(0, 16));
  });

  it("hashes integers as a permutation of the type's range, sign included", () => {
    for (const [bits, signed] of [[8, true], [8, false], [16, true], [16, false]] as const) {
      const size = 2 ** bits;
      const min = signed ? -size / 2 : 0;
      const seen = new Set<bigint>();
      for (let v = min; v < min + size; v++) {
        const out = p.hashNumber(BigInt(v), bits, signed);
        expect(out >= BigInt(min) && out < BigInt(min + size)).toBe(true);
        seen.add(out);
      }
      expect(seen.size).toBe(size);
    }
    expect(p.hashNumber(-9223372036854775808n, 64, true)).toBeTypeOf("bigint");
    expect(p.hashNumber(42n, 32, true)).toBe(p.hashNumber(42n, 32, true));
    expect(() => p.hashNumber(128n, 8, true)).toThrow(RangeError);
    expect(() => p.hashNumber(-1n, 64, false)).toThrow(RangeError);
  });

  it("hashes UUIDs to valid UUIDs, keeping a time UUID's time fields and version", () => {
    const v4 = p.hashUuid("123e4567-e89b-42d3-a456-426614174000");
    expect(v4).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(p.hashUuid("123E4567-E89B-42D3-A456-426614174000")).toBe(v4);
    const timeUuid = "d2177dd0-eaa2-11de-a572-001b779c76e3";
    const hashed = p.hashUuid(timeUuid);
    expect(hashed.slice(0, 18)).toBe(timeUuid.slice(0, 18));
    expect(hashed.slice(19)).not.toBe(timeUuid.slice(19));
    expect(hashed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("uses Luhn-valid public test cards and recognises its own fakes", () => {
    const card = p.card("4000 1234 5678 9010");
    expect(luhnValid(card)).toBe(true);
    expect(isReservedCard(card)).toBe(true);
    expect(isReservedCard("4111-1111-1111-1111")).toBe(true);
    expect(isReservedCard("4000123456789010")).toBe(false);
    expect(p.redactText()).toBe("[redacted]");
  });

  it("recognises reserved emails and phones only", () => {
    for (const email of ["a@example.com", "a@mail.example.org", "x@foo.test", "x@host.invalid", "x@localhost", "x@y.example"]) {
      expect(isReservedEmail(email), email).toBe(true);
    }
    for (const email of ["a@example.co", "a@examples.com", "a@corp.com", "no-at-sign"]) expect(isReservedEmail(email), email).toBe(false);
    expect(isReservedPhone("+999 1234567")).toBe(true);
    expect(isReservedPhone("+9991234567")).toBe(false);
    expect(isReservedPhone("+1 999 123 4567")).toBe(false);
  });
});

describe("Pseudonyms at scale: 1,000,000 distinct inputs, zero collisions", () => {
  it("email (key mode)", () => {
    const { outputs, perSecond } = generate(1_000_000, (i) => p.email(`user.${i}@corp${i % 1000}.com`, { key: true }));
    console.log(`email: ${perSecond.toLocaleString("en")} per second`);
    expect(new Set(outputs).size).toBe(1_000_000);
    expect(perSecond).toBeGreaterThan(MIN_PER_SECOND);
  });

  it("phone", () => {
    // mixed lengths and formats; all distinct after normalisation
    const format = (i: number) =>
      i % 2 === 0 ? `+1 (${String(200 + (i % 800))}) ${String(Math.floor(i / 800)).padStart(7, "0")}` : `0${String(i).padStart(9, "0")}`;
    const { outputs, perSecond } = generate(1_000_000, (i) => p.phone(format(i)));
    console.log(`phone: ${perSecond.toLocaleString("en")} per second`);
    expect(new Set(outputs).size).toBe(1_000_000);
    for (let i = 0; i < 1_000_000; i += 97) expect(p.phoneInverseForTests(outputs[i]!)).toBe(format(i).replace(/\D/g, ""));
    expect(perSecond).toBeGreaterThan(MIN_PER_SECOND);
  });

  it("person (key mode)", () => {
    const { outputs, perSecond } = generate(1_000_000, (i) => p.person(`Person ${i.toString(36)} Smith`, { key: true }));
    console.log(`person (key): ${perSecond.toLocaleString("en")} per second`);
    expect(new Set(outputs).size).toBe(1_000_000);
    // without the suffix the names repeat (16,000 first/last pairs): the suffix is what keeps key rows apart
    expect(new Set(outputs.slice(0, 100_000).map(withoutKeySuffix)).size).toBeLessThan(16_000);
  });
});
