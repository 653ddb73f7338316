import { describe, expect, it } from "vitest";
import { Fingerprinter, fingerprintWords } from "./fingerprinter.ts";

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
