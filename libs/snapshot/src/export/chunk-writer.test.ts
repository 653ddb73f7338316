import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ChunkWriter } from "./chunk-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "chunk-writer-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function write(name: string, lines: string[]) {
  const writer = new ChunkWriter(join(dir, name));
  for (const line of lines) await writer.writeLine(line);
  return writer.finish();
}

describe("ChunkWriter", () => {
  it("writes every line, counts raw bytes in UTF-8 and hashes the file it wrote", async () => {
    // lines around and beyond the block size, with characters of two, three and four bytes
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify([i, "é✓\u{1F3E0}".repeat(i % 7), "x".repeat((i * 37) % 300)]));
    lines.push(JSON.stringify(["y".repeat(200_000)]));
    const written = await write("a.ndjson.gz", lines);
    const file = readFileSync(written.path);
    const text = `${lines.join("\n")}\n`;
    expect(gunzipSync(file).toString("utf8")).toBe(text);
    expect(written.rows).toBe(lines.length);
    expect(written.rawBytes).toBe(Buffer.byteLength(text));
    expect(written.bytes).toBe(file.length);
    expect(written.sha256).toBe(createHash("sha256").update(file).digest("hex"));
  });

  it("gives equal bytes for equal lines", async () => {
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, note: `row ${i}` }));
    const [a, b] = [await write("b1.ndjson.gz", lines), await write("b2.ndjson.gz", lines)];
    expect(a.sha256).toBe(b.sha256);
  });

  it("writes an empty chunk as an empty gzip member", async () => {
    const written = await write("empty.ndjson.gz", []);
    expect(written.rows).toBe(0);
    expect(gunzipSync(readFileSync(written.path)).length).toBe(0);
  });
});
