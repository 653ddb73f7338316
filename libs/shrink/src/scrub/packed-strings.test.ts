import { describe, expect, it } from "vitest";
import { PackedStrings } from "./packed-strings.ts";

describe("PackedStrings", () => {
  it("gives back each string exactly: Latin-1 in a byte a character, anything else in two", () => {
    const strings = new PackedStrings();
    const texts = ["", "ann lee", "josé garcía", "Олег", "王小明", "\u{1F3E0} home", "lone \ud800 surrogate", "ÿ"];
    const handles = new Uint32Array(texts.length * 2);
    texts.forEach((text, i) => strings.append(text, handles, 2 * i));
    texts.forEach((text, i) => {
      expect(strings.get(handles[2 * i]!, handles[2 * i + 1]!)).toBe(text);
      expect(strings.equals(handles[2 * i]!, handles[2 * i + 1]!, text)).toBe(true);
      expect(strings.equals(handles[2 * i]!, handles[2 * i + 1]!, `${text}x`)).toBe(false);
    });
    expect(handles[3]! & 1).toBe(0); // "ann lee": one byte a character
    expect(handles[7]! & 1).toBe(1); // "Олег": two
    expect(strings.equals(handles[2]!, handles[3]!, "ann lea")).toBe(false);
  });

  it("spans many blocks and takes a string longer than a block", () => {
    const strings = new PackedStrings();
    const long = "x".repeat(3 << 20);
    const handles = new Uint32Array(2 * 20_001);
    for (let i = 0; i < 10_000; i++) strings.append(`value ${i} `.repeat(20), handles, 2 * i);
    strings.append(long, handles, 20_000);
    for (let i = 10_001; i < 20_001; i++) strings.append(`value ${i} `.repeat(20), handles, 2 * i);
    expect(strings.get(handles[20_000]!, handles[20_001]!)).toBe(long);
    for (const i of [0, 4_321, 9_999, 10_001, 20_000]) expect(strings.get(handles[2 * i]!, handles[2 * i + 1]!)).toBe(`value ${i} `.repeat(20));
    expect(strings.byteLength).toBeGreaterThanOrEqual(long.length + 20_000 * 200);
    expect(strings.byteLength).toBeLessThan(long.length + 20_000 * 200 + (3 << 20));
  });

  it("reads code units and orders strings as JS does, across widths", () => {
    const strings = new PackedStrings();
    const texts = ["b", "ab", "abc", "", "é", "Олег", "\u{1F3E0}", "abd", "a\u0100"];
    const handles = new Uint32Array(texts.length * 2);
    texts.forEach((text, i) => strings.append(text, handles, 2 * i));
    texts.forEach((text, i) => {
      for (let c = 0; c < text.length; c++) expect(strings.codeAt(handles[2 * i]!, handles[2 * i + 1]!, c)).toBe(text.charCodeAt(c));
    });
    const byPacked = texts.map((_, i) => i).sort((a, b) => strings.compare(handles[2 * a]!, handles[2 * a + 1]!, handles[2 * b]!, handles[2 * b + 1]!));
    expect(byPacked.map((i) => texts[i])).toEqual([...texts].sort());
  });
});
