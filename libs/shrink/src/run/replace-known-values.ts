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
      for (const index of textColumns) row[index] = replaceInStrings(row[index] ?? null, matcher);
      await writer.writeLine(JSON.stringify(row));
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

function replaceInStrings(value: JsonValue, matcher: KnownValueMatcher): JsonValue {
  if (typeof value === "string") return matcher.replace(value).text;
  if (Array.isArray(value)) return value.map((v) => replaceInStrings(v, matcher));
  if (value !== null && typeof value === "object") {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) out[k] = replaceInStrings(v, matcher);
    return out;
  }
  return value;
}
