import { describe, expect, it } from "vitest";
import { FingerprintTable, Fingerprinter, fingerprintFromHex, fingerprintWords } from "./fingerprint-table.ts";

const secret = Buffer.from("fingerprint-test-secret-0123456789");

describe("Fingerprinter", () => {
  it("is deterministic for one secret and purpose, and unrelated across secrets and purposes", () => {
    const out = new Uint32Array(4 * fingerprintWords);
    new Fingerprinter(secret, "a").write("ann@corp.com", out, 0);
    new Fingerprinter(secret, "a").write("ann@corp.com", out, 4);
    new Fingerprinter(secret, "b").write("ann@corp.com", out, 8);
    new Fingerprinter(Buffer.from("another-secret-of-enough-bytes"), "a").write("ann@corp.com", out, 12);
    expect([...out.subarray(0, 4)]).toEqual([...out.subarray(4, 8)]);
    expect([...out.subarray(0, 4)]).not.toEqual([...out.subarray(8, 12)]);
    expect([...out.subarray(0, 4)]).not.toEqual([...out.subarray(12, 16)]);
    expect(out[0]! & 1).toBe(1);
  });

  it("refuses a short secret", () => {
    expect(() => new Fingerprinter(Buffer.from("short"), "a")).toThrow(/16 bytes/);
  });
});

describe("FingerprintTable", () => {
  it("behaves as a set of the fingerprinted strings over 200,000 values, growing as it goes", () => {
    const fingerprints = new Fingerprinter(secret, "set");
    const table = new FingerprintTable(0, 16);
    const key = new Uint32Array(fingerprintWords);
    for (let i = 0; i < 200_000; i++) {
      fingerprints.write(`value-${i}`, key, 0);
      expect(table.add(key, 0)).toBe(true);
    }
    for (let i = 0; i < 200_000; i += 7) {
      fingerprints.write(`value-${i}`, key, 0);
      expect(table.add(key, 0)).toBe(false);
      expect(table.find(key, 0)).toBeGreaterThanOrEqual(0);
      fingerprints.write(`other-${i}`, key, 0);
      expect(table.find(key, 0)).toBe(-1);
    }
    expect(table.size).toBe(200_000);
    // 16 bytes a slot, at most 70 % full after growing, at least 35 %
    expect(table.byteLength).toBeLessThanOrEqual((200_000 / 0.35) * 16);
  });

  it("keeps a value per key and round-trips through hex", () => {
    const fingerprints = new Fingerprinter(secret, "map");
    const table = new FingerprintTable(fingerprintWords);
    const scratch = new Uint32Array(2 * fingerprintWords);
    for (let i = 0; i < 1000; i++) {
      fingerprints.write(`key-${i}`, scratch, 0);
      fingerprints.write(`value-${i}`, scratch, fingerprintWords);
      table.add(scratch, 0, scratch, fingerprintWords);
    }
    const copy = new FingerprintTable(fingerprintWords);
    for (const [key, value] of table.hex()) {
      fingerprintFromHex(key, scratch, 0);
      fingerprintFromHex(value!, scratch, fingerprintWords);
      copy.add(scratch, 0, scratch, fingerprintWords);
    }
    expect(copy.size).toBe(1000);
    fingerprints.write("key-123", scratch, 0);
    fingerprints.write("value-123", scratch, fingerprintWords);
    expect(copy.valueEquals(copy.find(scratch, 0), scratch, fingerprintWords)).toBe(true);
    fingerprints.write("value-124", scratch, fingerprintWords);
    expect(copy.valueEquals(copy.find(scratch, 0), scratch, fingerprintWords)).toBe(false);
  });

  it("refuses hex that is not a fingerprint", () => {
    const out = new Uint32Array(fingerprintWords);
    expect(() => fingerprintFromHex("00".repeat(16), out, 0)).toThrow(/not a fingerprint/);
    expect(() => fingerprintFromHex("zz", out, 0)).toThrow(/not a fingerprint/);
  });
});
