import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { testDir } from "../testing/temp-dir.ts";
import { StringFile } from "./string-file.ts";

describe("StringFile", () => {
  it("gives back every string by its handle: empty ones, ones filling the buffer exactly, ones larger than it, any script", () => {
    const file = new StringFile(join(testDir(), "strings"));
    const texts = ["", "a".repeat(65_536 - 3), "abc", "", "é", "x".repeat(200_000), "王小明 \u{1F3E0}", ""];
    for (let i = 0; i < 5000; i++) texts.push(i % 7 === 0 ? "" : `pseudonym ${i} ${"z".repeat(i % 50)}`);
    const handles = new Uint32Array(texts.length * 3);
    texts.forEach((text, i) => file.append(text, handles, i * 3));
    texts.forEach((text, i) => expect(file.get(handles, i * 3)).toBe(text));
    expect(file.size).toBe(texts.reduce((n, t) => n + Buffer.byteLength(t), 0));
    file.remove();
    expect(() => file.get(handles, 3)).toThrow(/removed/);
  });
});
