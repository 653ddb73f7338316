import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ChunkWriter, chunkLines, type JsonValue, type StagedChunk } from "@devenv/snapshot";
import type { KnownValueMatcher } from "../scrub/known-values.ts";

/**
 * Second pass over one staged chunk: every PII value that the first pass met
 * anywhere in the kept data is replaced by its pseudonym wherever a free-text
 * or JSON cell mentions it. Streams line by line; returns the rewritten chunk.
 */
export async function replaceKnownValues(
  chunk: StagedChunk,
  textColumns: readonly number[],
  matcher: KnownValueMatcher,
  stagingDir: string,
): Promise<StagedChunk> {
  const path = join(stagingDir, `${chunk.table}-${chunk.index}.pass2.ndjson.gz`);
  const writer = new ChunkWriter(path);
  try {
    for await (const line of chunkLines(chunk.path)) {
      const row = JSON.parse(line) as JsonValue[];
      let changed = false;
      for (const index of textColumns) {
        const before = row[index] ?? null;
        const after = replaceInStrings(before, matcher);
        if (after !== before) {
          row[index] = after;
          changed = true;
        }
      }
      // most rows mention no known value: their line is written as it was read
      await writer.writeLine(changed ? JSON.stringify(row) : line);
    }
    const written = await writer.finish();
    await rm(chunk.path, { force: true });
    return { ...chunk, ...written };
  } catch (error) {
    writer.destroy();
    await rm(path, { force: true });
    throw error;
  }
}

/** The value with known values replaced in every string it holds; the very same value when none was found. */
function replaceInStrings(value: JsonValue, matcher: KnownValueMatcher): JsonValue {
  if (typeof value === "string") {
    const replaced = matcher.replace(value);
    return replaced.replaced > 0 ? replaced.text : value;
  }
  if (Array.isArray(value)) {
    let out: JsonValue[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = replaceInStrings(value[i]!, matcher);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (value !== null && typeof value === "object") {
    let out: Record<string, JsonValue> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const replaced = replaceInStrings(v, matcher);
      if (replaced !== v) (out ??= { ...value })[k] = replaced;
    }
    return out ?? value;
  }
  return value;
}
