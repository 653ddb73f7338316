import { describe, expect, it } from "vitest";
import { KeySet } from "./key-set.ts";

describe("KeySet", () => {
  it("answers exactly for 200,000 UUID-like keys in 16 bytes each, and travels as base64", () => {
    const set = new KeySet();
    const key = (i: number) => `4f1c${i.toString(16).padStart(8, "0")}-0000-4000-8000-${(i * 7919).toString(16).padStart(12, "0")}`;
    for (let i = 0; i < 200_000; i++) set.add(key(i));
    set.add(key(5));
    expect(() => set.has(key(1))).toThrow(/before it was frozen/);
    set.freeze();
    expect(set.size).toBe(200_000);
    expect(() => set.add("late")).toThrow(/after it was frozen/);
    for (let i = 0; i < 200_000; i += 101) expect(set.has(key(i))).toBe(true);
    for (let i = 200_000; i < 400_000; i++) if (set.has(key(i))) throw new Error(`false member ${key(i)}`);
    const copy = KeySet.fromBase64(set.toBase64());
    expect(copy.size).toBe(200_000);
    expect(copy.has(key(199_999)) && !copy.has(key(200_000))).toBe(true);
    // 16 bytes a key plus the seeds
    expect(Buffer.from(set.toBase64(), "base64").length).toBe(16 * 200_001);
    expect(() => KeySet.fromBase64("abc")).toThrow(/not a key set/);
  });
});
