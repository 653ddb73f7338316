import { describe, expect, it } from "vitest";
import { DigitPermutation, IntegerPermutation } from "./format-preserving.ts";
import { sipHash24, sipHash64Of16, sipKey } from "./siphash.ts";

const referenceKey = sipKey(Uint8Array.from({ length: 16 }, (_, i) => i));
const message = (n: number) => Uint8Array.from({ length: n }, (_, i) => i);

describe("SipHash-2-4", () => {
  it("matches the reference vectors (key 00..0f, message 00..n-1)", () => {
    expect(sipHash24(referenceKey, message(0))).toBe(0x726fdb47dd0e0e31n);
    expect(sipHash24(referenceKey, message(1))).toBe(0x74f839c593dc67fdn);
    expect(sipHash24(referenceKey, message(8))).toBe(0x93f5f5799a932462n);
    expect(sipHash24(referenceKey, message(15))).toBe(0xa129ca6149be45e5n);
    expect(sipHash24(referenceKey, message(16))).toBe(0x3f2acc7f57c29bdbn);
    expect(sipHash64Of16(referenceKey, 0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c)).toBe(0x3f2acc7f57c29bdbn);
  });
});

describe("DigitPermutation", () => {
  const permutation = new DigitPermutation(sipKey(Buffer.from("fedcba9876543210")));

  it("keeps the length and inverts, on the Number path and the BigInt path", () => {
    for (const digits of ["00", "0000", "4155550134", "14155550134", "0".repeat(15), "9".repeat(30), "1234567890".repeat(5)]) {
      const out = permutation.permute(digits);
      expect(out).toMatch(new RegExp(`^\\d{${digits.length}}$`));
      expect(permutation.invert(out)).toBe(digits);
    }
  });

  it("is a permutation of all 3-digit strings", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(permutation.permute(String(i).padStart(3, "0")));
    expect(seen.size).toBe(1000);
  });

  it("refuses what is not two or more digits", () => {
    expect(() => permutation.permute("7")).toThrow(RangeError);
    expect(() => permutation.permute("12a4")).toThrow(RangeError);
  });
});

describe("IntegerPermutation", () => {
  it("inverts on 32 and 64 bits", () => {
    const key = sipKey(Buffer.from("0011223344556677"));
    for (const bits of [32, 64] as const) {
      const permutation = new IntegerPermutation(key, bits);
      for (const value of [0n, 1n, 12345n, (1n << BigInt(bits)) - 1n]) expect(permutation.invert(permutation.permute(value))).toBe(value);
    }
  });
});
