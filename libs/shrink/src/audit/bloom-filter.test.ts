import { describe, expect, it } from "vitest";
import { BloomFilter } from "./bloom-filter.ts";

describe("BloomFilter", () => {
  it("never forgets, and counts distinct values", () => {
    const filter = new BloomFilter(1000, 1e-6);
    expect(filter.add("email:ann@corp.com")).toBe(true);
    expect(filter.add("email:ann@corp.com")).toBe(false);
    expect(filter.has("email:ann@corp.com")).toBe(true);
    expect(filter.has("email:bob@corp.com")).toBe(false);
    expect(filter.count).toBe(1);
  });

  it("keeps the measured false-positive rate within 2x of the configured one (1M in, 1M absent)", () => {
    for (const rate of [1e-2, 1e-3]) {
      const filter = new BloomFilter(1_000_000, rate);
      let started = performance.now();
      for (let i = 0; i < 1_000_000; i++) filter.add(`words:present ${i}`);
      const addMs = performance.now() - started;
      for (let i = 0; i < 1_000_000; i += 1009) expect(filter.has(`words:present ${i}`)).toBe(true);
      started = performance.now();
      let falsePositives = 0;
      for (let i = 0; i < 1_000_000; i++) if (filter.has(`words:absent ${i}`)) falsePositives++;
      const hasMs = performance.now() - started;
      const measured = falsePositives / 1_000_000;
      console.log(
        `bloom p=${rate}: ${filter.sizeBytes.toLocaleString("en")} bytes, k=${filter.hashes}, measured ${measured}, ` +
          `add ${Math.round(1e6 / (addMs / 1000)).toLocaleString("en")}/s, has ${Math.round(1e6 / (hasMs / 1000)).toLocaleString("en")}/s`,
      );
      expect(measured).toBeGreaterThan(rate / 2);
      expect(measured).toBeLessThan(rate * 2);
      // an add that hits a false positive sets no new bit and is not counted
      expect(filter.count).toBeGreaterThan(1_000_000 * (1 - rate));
    }
  });

  it("stays under 60 MB for 10M values at 1e-9", () => {
    const size = BloomFilter.sizeFor(10_000_000, 1e-9);
    console.log(`bloom 10M @ 1e-9: ${size.bytes.toLocaleString("en")} bytes, ${size.hashes} hashes`);
    expect(size.bytes).toBeLessThan(60 * 1024 * 1024);
    expect(size.hashes).toBe(30);
    const filter = new BloomFilter(10_000_000, 1e-9);
    expect(filter.sizeBytes).toBe(size.bytes);
    filter.add("x");
    expect(filter.has("x")).toBe(true);
  });

  it("depends on the salt", () => {
    const a = new BloomFilter(100, 0.01, { salt: Buffer.from("one") });
    const b = new BloomFilter(100, 0.01, { salt: Buffer.from("two") });
    a.add("value");
    expect(a.has("value")).toBe(true);
    expect(b.has("value")).toBe(false);
  });

  it("rejects impossible sizes", () => {
    expect(() => new BloomFilter(0, 0.01)).toThrow(RangeError);
    expect(() => new BloomFilter(10, 1)).toThrow(RangeError);
  });
});
