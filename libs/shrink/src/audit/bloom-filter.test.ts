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

  it("keeps the measured false-positive rate within 2x of its first layer's share, half the configured one (1M in, 1M absent)", () => {
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
      expect(measured).toBeGreaterThan(rate / 4);
      expect(measured).toBeLessThan(rate);
      // an add that hits a false positive sets no new bit and is not counted
      expect(filter.count).toBeGreaterThan(1_000_000 * (1 - rate));
    }
  });

  it("takes 5.3 MiB a million values at 1e-9 (the first layer at half the rate, so later layers fit under it)", () => {
    const size = BloomFilter.sizeFor(10_000_000, 1e-9 / 2);
    console.log(`bloom 10M @ 1e-9: ${size.bytes.toLocaleString("en")} bytes, ${size.hashes} hashes`);
    expect(size.bytes).toBeLessThan(60 * 1024 * 1024);
    expect(size.hashes).toBe(31);
    const filter = new BloomFilter(10_000_000, 1e-9);
    expect(filter.sizeBytes).toBe(size.bytes);
    expect(new BloomFilter(1_000_000, 1e-9).sizeBytes).toBeLessThan(5.6 * 1024 * 1024);
    filter.add("x");
    expect(filter.has("x")).toBe(true);
  });

  it("grows in layers past its capacity and keeps its false-positive rate (ten times the capacity in)", () => {
    const filter = new BloomFilter(10_000, 1e-3);
    for (let i = 0; i < 100_000; i++) filter.add(`words:present ${i}`);
    expect(filter.add("words:present 99")).toBe(false);
    // an add that the earlier values already answer "maybe" for adds nothing, as in any Bloom filter
    expect(filter.count).toBeGreaterThan(100_000 * (1 - 1e-3));
    // 10k + 20k + 40k + 80k
    expect(filter.layerCount).toBe(4);
    for (let i = 0; i < 100_000; i += 7) expect(filter.has(`words:present ${i}`)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 1_000_000; i++) if (filter.has(`words:absent ${i}`)) falsePositives++;
    console.log(`bloom grown to 10x: ${filter.sizeBytes.toLocaleString("en")} bytes in ${filter.layerCount} layers, measured ${falsePositives / 1_000_000}`);
    expect(falsePositives / 1_000_000).toBeLessThan(1e-3);
    // memory follows what is held: within 2x of a filter sized for 150k from the start
    expect(filter.sizeBytes).toBeLessThan(2 * BloomFilter.sizeFor(150_000, 1e-3).bytes);
  });

  it("merges the filters of parts: into one layer while they fit, as layers of their own beyond", () => {
    const parts = [0, 1, 2].map((part) => {
      const filter = new BloomFilter(10_000, 1e-3);
      for (let i = 0; i < 4_000; i++) filter.add(`words:part ${part} value ${i}`);
      return filter;
    });
    const merged = new BloomFilter(10_000, 1e-3);
    for (const part of parts) merged.unionWith(Buffer.from(Buffer.from(part.toBytes()).toString("base64"), "base64"), part.count);
    expect(merged.count).toBe(12_000);
    // parts 0 and 1 share the first layer (8k of 10k), part 2 would overfill it
    expect(merged.layerCount).toBe(2);
    for (let part = 0; part < 3; part++) for (let i = 0; i < 4_000; i += 13) expect(merged.has(`words:part ${part} value ${i}`)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 200_000; i++) if (merged.has(`words:absent ${i}`)) falsePositives++;
    expect(falsePositives / 200_000).toBeLessThan(2 * 1e-3);
    expect(() => merged.unionWith(new Uint8Array(16), 0)).toThrow(/not the bytes of a BloomFilter/);
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
