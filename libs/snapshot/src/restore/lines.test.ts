import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { chunkLines } from "./lines.ts";

const dir = mkdtempSync(join(tmpdir(), "devenv-lines-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function all(path: string): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of chunkLines(path)) lines.push(line);
  return lines;
}

describe("chunkLines", () => {
  it("streams the lines of a gzip NDJSON chunk, multi-byte characters whole", async () => {
    const path = join(dir, "ok.ndjson.gz");
    writeFileSync(path, gzipSync(`["a"]\n["ü ✓ 🙂"]\n`));
    expect(await all(path)).toEqual(['["a"]', '["ü ✓ 🙂"]']);
  });

  it("rejects a missing file with an error naming it, instead of an unhandled error event", async () => {
    await expect(all(join(dir, "missing.ndjson.gz"))).rejects.toThrow(/^chunk .*missing\.ndjson\.gz cannot be read: ENOENT/);
  });

  it("rejects bytes that are not gzip, and a chunk cut off mid-line", async () => {
    const garbage = join(dir, "garbage.ndjson.gz");
    writeFileSync(garbage, "not gzip at all");
    await expect(all(garbage)).rejects.toThrow(/cannot be decompressed/);
    const cut = join(dir, "cut.ndjson.gz");
    writeFileSync(cut, gzipSync(`["a"]\n["b`));
    await expect(all(cut)).rejects.toThrow(/ends without a newline/);
  });
});
