import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { testDir } from "../testing/temp-dir.ts";
import { SortedRecordsWriter } from "./sorted-records.ts";

// a small deterministic generator: keys from a limited pool so that many repeat
function* keys(count: number, pool: number, seed: number): Generator<[number, number]> {
  let state = seed >>> 0;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  for (let i = 0; i < count; i++) {
    const k = next() % pool;
    yield [Math.imul(k, 2654435761) >>> 0, (k * 7919) >>> 0];
  }
}

describe("SortedRecordsWriter", () => {
  it("sorts and merges any number of runs (merge rounds included) into one record per key, and finds each", () => {
    const dir = testDir();
    // word 2 counts the key's records: the merge adds them up
    const writer = new SortedRecordsWriter({ dir, name: "t", recordWords: 3, keyWords: 2, bufferRecords: 100 }, (kept, other) => {
      kept[2] = kept[2]! + other[2]!;
    });
    const model = new Map<string, number>();
    const record = new Uint32Array(3);
    for (const [a, b] of keys(20_000, 5_000, 1)) {
      record.set([a, b, 1]);
      writer.append(record);
      model.set(`${a}:${b}`, (model.get(`${a}:${b}`) ?? 0) + 1);
    }
    expect(writer.appended).toBe(20_000);
    const sealed = writer.seal();
    // 200 runs were written, merged in rounds of 32: only the sealed file is left
    expect(readdirSync(dir)).toEqual(["t.sorted"]);
    expect(sealed.size).toBe(model.size);
    const seen: string[] = [];
    let previous = -1;
    for (const r of sealed.records()) {
      const order = r[0]! * 2 ** 32 + r[1]!;
      expect(order).toBeGreaterThan(previous);
      previous = order;
      seen.push(`${r[0]}:${r[1]}`);
      expect(r[2]).toBe(model.get(`${r[0]}:${r[1]}`));
    }
    expect(seen.length).toBe(model.size);
    for (const [key, count] of model) {
      const [a, b] = key.split(":").map(Number);
      expect(sealed.find(Uint32Array.of(a!, b!))?.[2]).toBe(count);
    }
    let found = 0;
    for (let i = 0; i < 10_000; i++) if (sealed.find(Uint32Array.of(i * 31 + 1, 12345)) !== undefined) found++;
    expect(found).toBe(0);
    sealed.close();
  });

  it("keeps everything in memory when it fits one buffer, and an empty writer seals to an empty file", () => {
    const dir = testDir();
    const writer = new SortedRecordsWriter({ dir, name: "small", recordWords: 4, keyWords: 4 });
    writer.append(Uint32Array.of(3, 0, 0, 1));
    writer.append(Uint32Array.of(3, 0, 0, 0));
    writer.append(Uint32Array.of(1, 9, 9, 9));
    const sealed = writer.seal();
    expect(Array.from(sealed.records(), (r) => [...r])).toEqual([[1, 9, 9, 9], [3, 0, 0, 0], [3, 0, 0, 1]]);
    expect(sealed.find(Uint32Array.of(3, 0, 0, 1))).toBeDefined();
    expect(sealed.find(Uint32Array.of(3, 0, 0, 2))).toBeUndefined();
    sealed.close();
    const empty = new SortedRecordsWriter({ dir, name: "empty", recordWords: 2, keyWords: 2 }).seal();
    expect(empty.size).toBe(0);
    expect(empty.find(Uint32Array.of(1, 2))).toBeUndefined();
    expect(Array.from(empty.records())).toEqual([]);
    empty.close();
  });

  it("fails the seal when the merge throws, and leaves no files", () => {
    const dir = testDir();
    const writer = new SortedRecordsWriter({ dir, name: "clash", recordWords: 3, keyWords: 2, bufferRecords: 4 }, (kept, other) => {
      if (kept[2] !== other[2]) throw new Error("two owners");
    });
    for (let i = 0; i < 10; i++) writer.append(Uint32Array.of(i, i, 7));
    writer.append(Uint32Array.of(5, 5, 8));
    expect(() => writer.seal()).toThrow("two owners");
    expect(readdirSync(dir)).toEqual([]);
    expect(() => writer.append(Uint32Array.of(1, 1, 1))).toThrow(/sealed/);
  });

  it("holds a bounded amount in memory however many records pass", () => {
    const dir = testDir();
    const writer = new SortedRecordsWriter({ dir, name: "big", recordWords: 2, keyWords: 2, bufferRecords: 8192 });
    const record = new Uint32Array(2);
    for (const [a, b] of keys(500_000, 400_000, 7)) {
      record[0] = a;
      record[1] = b;
      writer.append(record);
    }
    const sealed = writer.seal();
    // index (one key a block of 128) + prefilter (32 to 64 bits a key) + one block
    expect(sealed.byteLength).toBeLessThan(sealed.size * 8.2 + 4096);
    sealed.close();
  });
});
