import { mkdtemp, rm } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import {
  SnapshotManifest,
  snapshotFormatVersion,
  snapshotKeys,
  type SnapshotChunk,
  type SnapshotTable,
  type TransferProgress,
} from "@devenv/protocol";
import { parseCqlType, quoteIdentifier } from "../cql/cql-type.ts";
import { codecFor, type JsonValue, type ValueCodec } from "../cql/value-codec.ts";
import { readKeyspaceSchema, userTypesOf, type TableSchema } from "../schema/keyspace-schema.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { SnapshotError } from "../errors.ts";
import { mapBounded } from "../util/bounded.ts";
import { progressReporter } from "../util/progress.ts";
import { ChunkWriter } from "./chunk-writer.ts";
import { maxToken, minToken, powerOfTwoAtLeast, splitRing, type TokenRange } from "./token-ranges.ts";

export interface ExportOptions {
  client: cassandra.Client;
  keyspace: string;
  tables?: readonly string[];
  store: BlobStore;
  snapshotId?: string;
  description?: string;
  /** Target size of a chunk's NDJSON before compression; the chunk count per table follows from it. */
  targetChunkBytes?: number;
  /** Fixed chunk count for every table (overrides the estimate). */
  chunkCount?: number;
  /** Token ranges scanned at once. */
  scanConcurrency?: number;
  pageSize?: number;
  stagingDir?: string;
  onProgress?: (progress: TransferProgress) => void;
  now?: () => Date;
}

const defaultTargetChunkBytes = 8 * 1024 * 1024;
const maxChunksPerTable = 4096;
// the size estimate reads these many thin slices of the ring, each 1/4096 of it
const sampleSlices = 8;
const sampleSliceFraction = 4096n;

/** Scans a keyspace by fixed token ranges into content-addressed chunks plus a manifest. */
export async function exportSnapshot(options: ExportOptions): Promise<SnapshotManifest> {
  const now = options.now ?? (() => new Date());
  const createdAt = now();
  const snapshotId = options.snapshotId ?? defaultSnapshotId(options.keyspace, createdAt);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(snapshotId)) {
    throw new SnapshotError("invalid-input", `invalid snapshot id "${snapshotId}": use letters, digits, '.', '_' or '-'`);
  }
  if (await options.store.head(snapshotKeys.manifest(snapshotId))) {
    throw new SnapshotError("invalid-input", `snapshot "${snapshotId}" already exists in ${options.store.location}`);
  }
  const schema = await readKeyspaceSchema(options.client, options.keyspace, options.tables);
  const userTypes = userTypesOf(schema.types);
  const pageSize = options.pageSize ?? 1000;
  const progress = progressReporter("export", options.onProgress);
  const staging = await mkdtemp(join(options.stagingDir ?? tmpdir(), "devenv-export-"));

  try {
    progress.update({ phase: "plan" });
    const plans: { table: TableSchema; codecs: ValueCodec[]; ranges: TokenRange[] }[] = [];
    for (const table of schema.tables) {
      const codecs = table.columns.map((c) => codecFor(parseCqlType(c.type), userTypes));
      const count =
        options.chunkCount ??
        powerOfTwoAtLeast(
          Math.ceil((await estimateTableBytes(options.client, schema.keyspace, table, codecs)) / (options.targetChunkBytes ?? defaultTargetChunkBytes)),
          maxChunksPerTable,
        );
      plans.push({ table, codecs, ranges: splitRing(count) });
    }

    const tasks = plans.flatMap((plan) => plan.ranges.map((range, index) => ({ plan, range, index })));
    progress.update({ phase: "scan", chunksTotal: tasks.length });
    const results = await mapBounded(tasks, options.scanConcurrency ?? 4, async ({ plan, range, index }) => {
      const path = join(staging, `${plan.table.name}-${index}.ndjson.gz`);
      const writer = new ChunkWriter(path);
      try {
        for await (const page of scanRange(options.client, schema.keyspace, plan.table, range, pageSize)) {
          for (const row of page) {
            await writer.writeLine(encodeRow(row, plan.codecs));
          }
          progress.add({ rowsDone: page.length });
        }
        const chunk = await writer.finish();
        progress.add({ bytesDone: chunk.bytes, chunksDone: 1 });
        if (chunk.rows === 0) return undefined;
        const key = snapshotKeys.chunk(chunk.sha256);
        // content addressing: a chunk another snapshot already stored is not uploaded again
        if (!(await options.store.head(key))) await options.store.put(key, createReadStream(chunk.path), chunk.bytes);
        const entry: SnapshotChunk = {
          sha256: chunk.sha256,
          rows: chunk.rows,
          bytes: chunk.bytes,
          rawBytes: chunk.rawBytes,
          tokenRange: { start: range.start.toString(), end: range.end.toString() },
        };
        return { table: plan.table.name, index, entry };
      } finally {
        writer.destroy();
        await rm(path, { force: true });
      }
    });

    const tables: SnapshotTable[] = plans.map(({ table }) => {
      const chunks = results
        .filter((r) => r !== undefined && r.table === table.name)
        .sort((a, b) => a!.index - b!.index)
        .map((r) => r!.entry);
      return {
        name: table.name,
        columns: table.columns,
        counter: table.counter,
        chunks,
        rows: chunks.reduce((n, c) => n + c.rows, 0),
        bytes: chunks.reduce((n, c) => n + c.bytes, 0),
      };
    });
    const manifest = SnapshotManifest.parse({
      formatVersion: snapshotFormatVersion,
      id: snapshotId,
      createdAt: createdAt.toISOString(),
      source: {
        description: options.description ?? `keyspace ${schema.keyspace}`,
        keyspace: schema.keyspace,
        cassandraVersion: schema.cassandraVersion,
      },
      schema: { types: schema.types, statements: schema.statements },
      tables,
      totals: {
        tables: tables.length,
        chunks: tables.reduce((n, t) => n + t.chunks.length, 0),
        rows: tables.reduce((n, t) => n + t.rows, 0),
        bytes: tables.reduce((n, t) => n + t.bytes, 0),
      },
    });
    await options.store.put(snapshotKeys.manifest(snapshotId), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    progress.update({ phase: "done" }, true);
    return manifest;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export function defaultSnapshotId(keyspace: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z").replace("T", "-");
  return `${keyspace.replace(/[^A-Za-z0-9._-]/g, "_")}-${stamp}`;
}

function encodeRow(row: cassandra.types.Row, codecs: readonly ValueCodec[]): string {
  const cells = row.values();
  const values: JsonValue[] = new Array(codecs.length);
  for (let i = 0; i < codecs.length; i++) values[i] = codecs[i]!.toJson(cells[i]);
  return JSON.stringify(values);
}

function selectStatement(keyspace: string, table: TableSchema): string {
  const q = quoteIdentifier;
  const partition = table.columns.filter((c) => c.kind === "partition_key").map((c) => q(c.name)).join(", ");
  const columns = table.columns.map((c) => q(c.name)).join(", ");
  return `SELECT ${columns} FROM ${q(keyspace)}.${q(table.name)} WHERE token(${partition}) > ? AND token(${partition}) <= ?`;
}

/** Pages through one token range; each page is awaited by the consumer before the next is fetched. */
async function* scanRange(
  client: cassandra.Client,
  keyspace: string,
  table: TableSchema,
  range: TokenRange,
  pageSize: number,
): AsyncGenerator<cassandra.types.Row[]> {
  const query = selectStatement(keyspace, table);
  // token() binds a bigint: the driver's Long keeps 64-bit values exact
  const { types } = cassandra;
  const params = [types.Long.fromString(range.start.toString()), types.Long.fromString(range.end.toString())];
  let pageState: string | undefined;
  do {
    const result = await client.execute(query, params, { prepare: true, fetchSize: pageSize, pageState, isIdempotent: true });
    yield result.rows;
    pageState = result.pageState ?? undefined;
  } while (pageState);
}

/** Estimates a table's NDJSON size from a few thin, evenly spaced slices of the ring. */
async function estimateTableBytes(
  client: cassandra.Client,
  keyspace: string,
  table: TableSchema,
  codecs: readonly ValueCodec[],
): Promise<number> {
  const ring = maxToken - minToken + 1n;
  let bytes = 0;
  for (let i = 0n; i < BigInt(sampleSlices); i++) {
    const start = minToken + (ring * i) / BigInt(sampleSlices);
    const range = { start, end: start + ring / sampleSliceFraction };
    for await (const page of scanRange(client, keyspace, table, range, 1000)) {
      for (const row of page) bytes += encodeRow(row, codecs).length + 1;
    }
  }
  return (bytes * Number(sampleSliceFraction)) / sampleSlices;
}
