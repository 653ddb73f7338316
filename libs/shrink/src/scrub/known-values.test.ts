import { describe, expect, it } from "vitest";
import { KnownValues } from "./known-values.ts";

function matcher(values: [string, string][]) {
  const known = new KnownValues();
  for (const [original, replacement] of values) known.add("person", original, replacement);
  return known.build();
}

describe("KnownValues", () => {
  it("replaces whole words only, folding case, accents and whitespace", () => {
    const m = matcher([["Ann", "Mia"], ["José García", "Leo Park"]]);
    expect(m.replace("Annual report by ANN, ann's notes; Joanna").text).toBe("Annual report by Mia, Mia's notes; Joanna");
    expect(m.replace("met jose   GARCIA\nand Jose\u0301 García").text).toBe("met Leo Park\nand Leo Park");
    expect(m.replace("JOSÉ GARCÍA!").replaced).toBe(1);
  });

  it("takes the leftmost, then the longest match", () => {
    const m = matcher([["Ann", "A1"], ["Ann Lee", "B2"], ["Lee Park", "C3"]]);
    expect(m.replace("Ann Lee Park").text).toBe("B2 Park");
    expect(m.replace("Ann Leeway").text).toBe("A1 Leeway");
    expect(m.replace("Dr Lee Park and Ann").text).toBe("Dr C3 and A1");
  });

  it("needs no boundary next to a non-word character of the value", () => {
    const known = new KnownValues();
    known.add("email", "ann@corp.com", "x.y.abc@example.com");
    known.add("phone", "+14155550134", "+999 12345678901");
    const m = known.build();
    expect(m.replace("<ann@corp.com>, tel:+14155550134.").text).toBe("<x.y.abc@example.com>, tel:+999 12345678901.");
    expect(m.replace("xann@corp.com").text).toBe("xann@corp.com");
  });

  it("ignores values that are too short and keeps one pseudonym per value whatever the order", () => {
    const a = new KnownValues();
    expect(a.add("person", "Al", "Zed")).toBe(false);
    a.add("person", "Ann Lee", "Mia Cole uvwxyz2345");
    a.add("person", "ann lee", "Mia Cole");
    const b = new KnownValues();
    b.add("person", "ann lee", "Mia Cole");
    b.add("person", "Ann Lee", "Mia Cole uvwxyz2345");
    expect(a.size).toBe(1);
    expect(a.build().replace("Ann Lee").text).toBe(b.build().replace("Ann Lee").text);
  });

  it("finds overlapping values through fail links (he / she / hers)", () => {
    const m = matcher([["he", "1"], ["she", "2"], ["hers", "3"], ["his", "4"]]);
    expect(new KnownValues({ minLength: 1 }).build().find("anything")).toEqual([]);
    const known = new KnownValues({ minLength: 2 });
    for (const w of ["he", "she", "hers", "his"]) known.add("person", w, w.toUpperCase());
    expect(known.build().replace("ushers she his hers he").text).toBe("ushers SHE HIS HERS HE");
    expect(m.size).toBe(3);
  });

  it("handles 100,000 values and a 1 MB text in one pass", () => {
    const known = new KnownValues();
    for (let i = 0; i < 100_000; i++) known.add("person", `Person${i} Surname${i % 977}`, `Fake${i}`);
    let started = performance.now();
    const m = known.build();
    const buildMs = performance.now() - started;
    const words: string[] = [];
    let expected = 0;
    for (let length = 0; length < 1_000_000; length += words[words.length - 1]!.length + 1) {
      const i = words.length * 7919 % 100_000;
      if (words.length % 10 === 0) {
        words.push(`Person${i} Surname${i % 977}`);
        expected++;
      } else words.push(`Personal${i} report`);
    }
    const text = words.join(" ");
    started = performance.now();
    const { replaced } = m.replace(text);
    const scanMs = performance.now() - started;
    console.log(`known values: build 100k in ${Math.round(buildMs)} ms, scan ${text.length} chars in ${Math.round(scanMs)} ms`);
    expect(replaced).toBe(expected);
    expect(buildMs).toBeLessThan(5000);
    expect(scanMs).toBeLessThan(3000);
  });
});
