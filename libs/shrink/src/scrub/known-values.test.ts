import { afterEach, describe, expect, it } from "vitest";
import { KnownValues, type KnownValuesOptions } from "./known-values.ts";

const opened: KnownValues[] = [];
function knownValues(options?: KnownValuesOptions): KnownValues {
  const known = new KnownValues(options);
  opened.push(known);
  return known;
}
afterEach(() => {
  for (const known of opened.splice(0)) known.close();
});

function matcher(values: [string, string][]) {
  const known = knownValues();
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
    const known = knownValues();
    known.add("email", "ann@corp.com", "x.y.abc@example.com");
    known.add("phone", "+14155550134", "+999 12345678901");
    const m = known.build();
    expect(m.replace("<ann@corp.com>, tel:+14155550134.").text).toBe("<x.y.abc@example.com>, tel:+999 12345678901.");
    expect(m.replace("xann@corp.com").text).toBe("xann@corp.com");
  });

  it("ignores values that are too short and keeps one pseudonym per value whatever the order", () => {
    const a = knownValues();
    expect(a.add("person", "Al", "Zed")).toBe(false);
    a.add("person", "Ann Lee", "Mia Cole uvwxyz2345");
    a.add("person", "ann lee", "Mia Cole");
    const b = knownValues();
    b.add("person", "ann lee", "Mia Cole");
    b.add("person", "Ann Lee", "Mia Cole uvwxyz2345");
    expect(a.add("address", `${"Long Street ".repeat(30)}1`, "Main St 1")).toBe(false); // over 256 characters
    expect(a.build().replace("Ann Lee").text).toBe(b.build().replace("Ann Lee").text);
    expect(a.size).toBe(1);
    expect(() => a.add("person", "Bo Chen", "Ed Fox")).toThrow(/sealed/);
  });

  it("finds overlapping values through fail links (he / she / hers)", () => {
    const m = matcher([["he", "1"], ["she", "2"], ["hers", "3"], ["his", "4"]]);
    expect(knownValues({ minLength: 1 }).build().find("anything")).toEqual([]);
    const known = knownValues({ minLength: 2 });
    for (const w of ["he", "she", "hers", "his"]) known.add("person", w, w.toUpperCase());
    expect(known.build().replace("ushers she his hers he").text).toBe("ushers SHE HIS HERS HE");
    expect(m.size).toBe(3);
  });

  it("handles 100,000 values and a 1 MB text in one pass", () => {
    const known = knownValues();
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

  it("finds exactly the occurrences a brute-force search finds (random values over a tiny alphabet)", () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const word = (length: number) => Array.from({ length }, () => "ab-"[random(3)]).join("");
    for (let round = 0; round < 40; round++) {
      const known = knownValues({ minLength: 1 });
      const values = new Map<string, string>();
      for (let i = 0; i < 1 + random(30); i++) {
        const value = word(1 + random(6));
        if (!values.has(value)) values.set(value, `<${values.size}>`);
        known.add("person", value, values.get(value)!);
      }
      const text = word(200);
      const expected: { start: number; end: number; replacement: string }[] = [];
      const isWord = (c: string | undefined) => c !== undefined && c !== "-";
      for (let start = 0, taken = 0; start < text.length; start++) {
        if (start < taken) continue;
        const candidates = [...values].filter(([v]) => text.startsWith(v, start)).sort((a, b) => b[0].length - a[0].length);
        for (const [v, replacement] of candidates) {
          const end = start + v.length;
          if (isWord(v[0]) && isWord(text[start - 1])) continue;
          if (isWord(v[v.length - 1]) && isWord(text[end])) continue;
          expected.push({ start, end, replacement });
          taken = end;
          break;
        }
      }
      expect(known.build().find(text).map(({ start, end, replacement }) => ({ start, end, replacement }))).toEqual(expected);
    }
  });

  it("keeps values outside Latin-1 exactly, and carries them through entries() without the values in clear", () => {
    const secret = Buffer.from("known-values-test-secret-0123456789");
    const known = knownValues({ secret });
    known.add("person", "Олег Петров", "Ivan Lee");
    known.add("person", "王小明", "Mia Cole");
    known.add("address", "Straße 12", "Main St 1 \u{1F3E0}");
    const copy = knownValues({ secret });
    for (const entry of known.entries()) copy.addEntry(entry);
    expect([...copy.entries()]).toEqual([...known.entries()]);
    expect(JSON.stringify([...known.entries()])).not.toMatch(/Олег|олег|王小明|straße|strasse/i);
    // another secret gives other fingerprints: its entries find nothing here
    const stranger = knownValues({ secret: Buffer.from("another-secret-entirely-0123456789") });
    for (const entry of known.entries()) stranger.addEntry(entry);
    expect(stranger.build().replace("ОЛЕГ ПЕТРОВ").text).toBe("ОЛЕГ ПЕТРОВ");
    expect(copy.build().replace("от ОЛЕГ ПЕТРОВ и 王小明, straße 12").text).toBe("от Ivan Lee и Mia Cole, Main St 1 \u{1F3E0}");
  });

  it("holds a fixed amount in memory while values are added, then 4 to 8 bytes a value, however many runs went to disk", () => {
    // a small buffer: 100,000 values make some forty sorted runs, merged on build
    const known = knownValues({ bufferRecords: 2_500 });
    for (let i = 0; i < 100_000; i++) {
      const email = `first${i}.last${i % 977}@mail${i % 13}.example-corp.com`;
      known.add("email", email, `x.y.${i.toString(36).padStart(12, "0")}@example.com`);
      // met again with a longer pseudonym (a key column's): the shorter one stays
      if (i % 10 === 0) known.add("email", email.toUpperCase(), `x.y.${i.toString(36).padStart(12, "0")}.k@example.com`);
    }
    const m = known.build();
    expect(known.size).toBe(100_000);
    // index, prefilter and one block, plus the fixed recent-value cache and code flags
    expect(known.byteLength).toBeLessThan(100_000 * 9 + (1 << 18) + 0x10000 + 8192);
    expect(m.replace("mail FIRST99990.last336@mail7.example-corp.com now").text).toBe(`mail x.y.${(99_990).toString(36).padStart(12, "0")}@example.com now`);
    expect(m.replace("mail first12345.last621@mail8.example-corp.com now").text).toBe(`mail x.y.${(12_345).toString(36).padStart(12, "0")}@example.com now`);
  });
});
