import { createReadStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import {
  SnapshotManifest,
  snapshotFormatVersion,
  snapshotKeys,
  type SnapshotChunk,
  type SnapshotTable,
} from "@devenv/protocol";
import { parseCqlType, quoteIdentifier } from "../cql/cql-type.ts";
import { codecFor, type JsonValue, type UserTypes, type ValueCodec } from "../cql/value-codec.ts";
import type { KeyspaceSchema, TableSchema } from "../schema/keyspace-schema.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { mapBounded } from "../util/bounded.ts";
import { ChunkWriter } from "./chunk-writer.ts";
import { maxToken, minToken, powerOfTwoAtLeast, splitRing, type TokenRange } from "./token-ranges.ts";

export const defaultTargetChunkBytes = 8 * 1024 * 1024;
/**
 * Rows per page follow the rows' size: a page of about this many bytes, whatever
 * the table's width, so a scan's memory is bounded by bytes (a page's rows live
 * two or three times over: frame, decoded rows, mapped values) rather than by a
 * row count that is harmless for narrow rows and tens of MiB for wide ones.
 */
export const defaultPageBytes = 256 * 1024;
const firstPageRows = 64;
const minPageRows = 16;
const sampledRowsPerPage = 8;
const maxChunksPerTable = 4096;
// the size estimate reads these many thin slices of the ring, each 1/4096 of it at first,
// wider until they hold this many partitions or bytes
const sampleSlices = 8;
const sampleSliceFraction = 4096n;
const sampleEnoughPartitions = 32;
const sampleEnoughBytes = 1024 * 1024;

/** A table with the codecs of its columns and the fixed token ranges its chunks cover. */
export interface TablePlan {
  table: TableSchema;
  codecs: ValueCodec[];
  ranges: TokenRange[];
}

/** One chunk written to the staging directory, not yet in any store. */
export interface StagedChunk {
  table: string;
  index: number;
  range: TokenRange;
  path: string;
  sha256: string;
  rows: number;
  bytes: number;
  rawBytes: number;
}

/** Decides each chunk count: fixed when asked, else from a size estimate rounded up to a power of two. */
export async function planTables(
  client: cassandra.Client,
  schema: KeyspaceSchema,
  userTypes: UserTypes,
  options: { chunkCount?: number; targetChunkBytes?: number },
): Promise<TablePlan[]> {
  const plans: TablePlan[] = [];
  for (const table of schema.tables) {
    const codecs = table.columns.map((c) => codecFor(parseCqlType(c.type), userTypes));
    const count =
      options.chunkCount ??
      powerOfTwoAtLeast(
        Math.ceil((await estimateTableBytes(client, schema.keyspace, table, codecs)) / (options.targetChunkBytes ?? defaultTargetChunkBytes)),
        maxChunksPerTable,
      );
    plans.push({ table, codecs, ranges: splitRing(count) });
  }
  return plans;
}

/** Turns a row's driver values into the JSON values of a chunk line, or drops it (undefined). */
export type RowMapper = (plan: TablePlan, cells: readonly unknown[]) => JsonValue[] | undefined;

export const encodeAll: RowMapper = (plan, cells) => {
  const values: JsonValue[] = new Array(plan.codecs.length);
  for (let i = 0; i < plan.codecs.length; i++) values[i] = plan.codecs[i]!.toJson(cells[i]);
  return values;
};

/**
 * Lets a caller skip whole partitions (a shrink dropping an organisation whose
 * id is in the partition key): a screened chunk lists its partitions first,
 * reads the kept ones whole through mapRow and of the others only what the
 * screen asks for, so the bulk of dropped data never leaves the database.
 */
export interface PartitionScreen {
  /** Whether the table's partition key alone decides what is kept. */
  appliesTo(plan: TablePlan): boolean;
  /** `undefined` keeps the partition (its rows go through mapRow as usual); a drop names what of it to read. */
  screen(plan: TablePlan, partitionKey: readonly unknown[]): PartitionDrop | undefined;
}

export interface PartitionDrop {
  /** Columns to read of the dropped partition's rows; none: only their count (COUNT(*), in the database). */
  columns: readonly string[];
  /** Called per page read (values in `columns` order), or once with no rows and the count when no columns were asked for. */
  onRows(rows: readonly (readonly unknown[])[], count: number): void;
}

/** A chunk with more partitions than this is scanned row by row: a query per partition would cost more than it saves. */
export const maxScreenedPartitions = 2000;

export interface StageOptions {
  client: cassandra.Client;
  keyspace: string;
  plans: readonly TablePlan[];
  stagingDir: string;
  concurrency: number;
  /** Most rows a page may hold (default 1000); fewer when rows are wide, see pageBytes. */
  pageSize?: number;
  /** Bytes a page aims at (default defaultPageBytes). */
  pageBytes?: number;
  mapRow?: RowMapper;
  /** Skips dropped partitions of the tables it applies to (see PartitionScreen); the chunks are the same as without. */
  screen?: PartitionScreen;
  onRowsRead?: (plan: TablePlan, rows: number) => void;
  /** Called as each chunk is staged; e.g. upload it and remove the file at once. */
  onChunk?: (chunk: StagedChunk) => Promise<void>;
}

/**
 * Scans every planned token range with paging, at bounded concurrency, and
 * writes the mapped rows of each range into one gzip NDJSON file. Memory is
 * bounded by page size times concurrency. Empty ranges yield no chunk.
 */
export async function stageChunks(options: StageOptions): Promise<StagedChunk[]> {
  const mapRow = options.mapRow ?? encodeAll;
  const tasks = options.plans.flatMap((plan) => plan.ranges.map((range, index) => ({ plan, range, index })));
  const staged = await mapBounded(tasks, options.concurrency, async ({ plan, range, index }) => {
    const path = join(options.stagingDir, `${plan.table.name}-${index}.ndjson.gz`);
    const writer = new ChunkWriter(path);
    try {
      const pages = options.screen?.appliesTo(plan)
        ? screenedScan(options, plan, range, options.screen)
        : scanRange(options.client, options.keyspace, plan.table, range, options.pageSize ?? 1000, options.pageBytes);
      for await (const page of pages) {
        for (const row of page) {
          const values = mapRow(plan, row.values());
          if (values) await writer.writeLine(JSON.stringify(values));
        }
        options.onRowsRead?.(plan, page.length);
      }
      const written = await writer.finish();
      if (written.rows === 0) {
        await rm(path, { force: true });
        return undefined;
      }
      const chunk: StagedChunk = { table: plan.table.name, index, range, ...written };
      await options.onChunk?.(chunk);
      return chunk;
    } catch (error) {
      writer.destroy();
      await rm(path, { force: true });
      throw error;
    }
  });
  return staged.filter((c): c is StagedChunk => c !== undefined);
}

/** Uploads a staged chunk unless the store already has it: content addressing makes that a no-op. */
export async function uploadChunk(store: BlobStore, chunk: StagedChunk): Promise<boolean> {
  const key = snapshotKeys.chunk(chunk.sha256);
  if (await store.head(key)) return false;
  await store.put(key, createReadStream(chunk.path), chunk.bytes);
  return true;
}

export interface ManifestInput {
  id: string;
  createdAt: Date;
  description: string;
  schema: KeyspaceSchema;
  plans: readonly TablePlan[];
  chunks: readonly StagedChunk[];
}

export function buildManifest(input: ManifestInput): SnapshotManifest {
  const tables: SnapshotTable[] = input.plans.map(({ table }) => {
    const chunks: SnapshotChunk[] = input.chunks
      .filter((c) => c.table === table.name)
      .sort((a, b) => a.index - b.index)
      .map((c) => ({
        sha256: c.sha256,
        rows: c.rows,
        bytes: c.bytes,
        rawBytes: c.rawBytes,
        tokenRange: { start: c.range.start.toString(), end: c.range.end.toString() },
      }));
    return {
      name: table.name,
      columns: table.columns,
      counter: table.counter,
      chunks,
      rows: chunks.reduce((n, c) => n + c.rows, 0),
      bytes: chunks.reduce((n, c) => n + c.bytes, 0),
    };
  });
  return SnapshotManifest.parse({
    formatVersion: snapshotFormatVersion,
    id: input.id,
    createdAt: input.createdAt.toISOString(),
    source: { description: input.description, keyspace: input.schema.keyspace, cassandraVersion: input.schema.cassandraVersion },
    schema: { types: input.schema.types, statements: input.schema.statements },
    tables,
    totals: {
      tables: tables.length,
      chunks: tables.reduce((n, t) => n + t.chunks.length, 0),
      rows: tables.reduce((n, t) => n + t.rows, 0),
      bytes: tables.reduce((n, t) => n + t.bytes, 0),
    },
  });
}

/** Publishing the manifest is the last step: a snapshot without one does not exist for readers. */
export async function writeManifest(store: BlobStore, manifest: SnapshotManifest): Promise<void> {
  await store.put(snapshotKeys.manifest(manifest.id), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
}

function selectStatement(keyspace: string, table: TableSchema): string {
  const q = quoteIdentifier;
  const partition = table.columns.filter((c) => c.kind === "partition_key").map((c) => q(c.name)).join(", ");
  const columns = table.columns.map((c) => q(c.name)).join(", ");
  return `SELECT ${columns} FROM ${q(keyspace)}.${q(table.name)} WHERE token(${partition}) > ? AND token(${partition}) <= ?`;
}

/**
 * The rows of a token range's kept partitions, in the order a range scan gives
 * them (partitions by token, rows by clustering), so the chunk is the same; the
 * dropped partitions are read as their screen asks and counted as read.
 */
async function* screenedScan(options: StageOptions, plan: TablePlan, range: TokenRange, screen: PartitionScreen): AsyncGenerator<cassandra.types.Row[]> {
  const { client, keyspace } = options;
  const { table } = plan;
  const q = quoteIdentifier;
  const keyColumns = table.columns.filter((c) => c.kind === "partition_key").map((c) => c.name);
  const token = `token(${keyColumns.map(q).join(", ")})`;
  const params = [cassandra.types.Long.fromString(range.start.toString()), cassandra.types.Long.fromString(range.end.toString())];
  const partitions: unknown[][] = [];
  let pageState: string | undefined;
  do {
    const listed = await client.execute(
      `SELECT DISTINCT ${keyColumns.map(q).join(", ")} FROM ${q(keyspace)}.${q(table.name)} WHERE ${token} > ? AND ${token} <= ?`,
      params,
      { prepare: true, fetchSize: 1000, pageState, isIdempotent: true },
    );
    for (const row of listed.rows) partitions.push(row.values());
    pageState = listed.pageState ?? undefined;
    if (partitions.length > maxScreenedPartitions) {
      yield* scanRange(client, keyspace, table, range, options.pageSize ?? 1000, options.pageBytes);
      return;
    }
  } while (pageState);
  const from = `FROM ${q(keyspace)}.${q(table.name)} WHERE ${keyColumns.map((c) => `${q(c)} = ?`).join(" AND ")}`;
  const selectKept = `SELECT ${table.columns.map((c) => q(c.name)).join(", ")} ${from}`;
  // a dropped partition is counted in the database, or read page by page in the few columns its
  // screen asks for (so a huge one costs a page of memory), several ahead of the scan at once
  const readDropped = async (key: unknown[], drop: PartitionDrop) => {
    if (drop.columns.length === 0) {
      const counted = await client.execute(`SELECT COUNT(*) ${from}`, key, { prepare: true, isIdempotent: true });
      const count = Number(counted.first()?.get(0) ?? 0);
      drop.onRows([], count);
      options.onRowsRead?.(plan, count);
      return;
    }
    const select = `SELECT ${drop.columns.map(q).join(", ")} ${from}`;
    let state: string | undefined;
    do {
      const page = await client.execute(select, key, { prepare: true, fetchSize: options.pageSize ?? 1000, pageState: state, isIdempotent: true });
      drop.onRows(page.rows.map((row) => row.values()), page.rowLength);
      options.onRowsRead?.(plan, page.rowLength);
      state = page.pageState ?? undefined;
    } while (state);
  };
  const drops = partitions.map((key) => ({ key, drop: screen.screen(plan, key) }));
  const dropReads = new Map<number, Promise<void>>();
  const readAhead = 16;
  let next = 0;
  for (let i = 0; i < drops.length; i++) {
    for (; next < drops.length && next < i + readAhead; next++) {
      const { key, drop } = drops[next]!;
      if (!drop) continue;
      const read = readDropped(key, drop);
      // awaited in order below; one that fails after the scan stopped must not go unhandled
      read.catch(() => {});
      dropReads.set(next, read);
    }
    const { key, drop } = drops[i]!;
    if (drop) {
      await dropReads.get(i);
      dropReads.delete(i);
      continue;
    }
    let state: string | undefined;
    do {
      const result = await client.execute(selectKept, key, {
        prepare: true,
        // rows of any width: a page of a partition stays small (a range scan sizes its pages by bytes)
        fetchSize: Math.min(options.pageSize ?? 1000, 250),
        pageState: state,
        isIdempotent: true,
      });
      yield result.rows;
      state = result.pageState ?? undefined;
    } while (state);
  }
}

/**
 * Pages through one token range; each page is awaited by the consumer before
 * the next is fetched. The first page is small; later ones hold as many rows
 * (up to `maxPageRows`) as fit in `pageBytes`, judged from the rows seen so far.
 */
export async function* scanRange(
  client: cassandra.Client,
  keyspace: string,
  table: TableSchema,
  range: TokenRange,
  maxPageRows: number,
  pageBytes: number = defaultPageBytes,
): AsyncGenerator<cassandra.types.Row[]> {
  const query = selectStatement(keyspace, table);
  // token() binds a bigint: the driver's Long keeps 64-bit values exact
  const params = [cassandra.types.Long.fromString(range.start.toString()), cassandra.types.Long.fromString(range.end.toString())];
  let pageState: string | undefined;
  let fetchSize = Math.min(maxPageRows, firstPageRows);
  let sampledRows = 0;
  let sampledBytes = 0;
  do {
    const result = await client.execute(query, params, { prepare: true, fetchSize, pageState, isIdempotent: true });
    const rows = result.rows;
    const stride = Math.max(1, Math.floor(rows.length / sampledRowsPerPage));
    for (let i = 0; i < rows.length; i += stride) {
      sampledBytes += approximateBytes(rows[i]!.values());
      sampledRows++;
    }
    if (sampledRows > 0) fetchSize = Math.max(Math.min(minPageRows, maxPageRows), Math.min(maxPageRows, Math.floor((pageBytes * sampledRows) / sampledBytes)));
    yield rows;
    pageState = result.pageState ?? undefined;
  } while (pageState);
}

/** A cheap size of a driver value, about its bytes on the wire: enough to size pages. */
export function approximateBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  if (typeof value === "string") return 4 + value.length;
  if (typeof value !== "object") return 8;
  if (value instanceof Uint8Array) return 4 + value.byteLength;
  if (Array.isArray(value)) {
    let bytes = 4;
    for (const v of value) bytes += approximateBytes(v);
    return bytes;
  }
  if (value instanceof Map) {
    let bytes = 4;
    for (const [k, v] of value) bytes += approximateBytes(k) + approximateBytes(v);
    return bytes;
  }
  if (value instanceof Set) {
    let bytes = 4;
    for (const v of value) bytes += approximateBytes(v);
    return bytes;
  }
  if (value instanceof cassandra.types.Tuple) return approximateBytes(value.elements);
  // UDTs arrive as plain objects; the driver's scalar types (Long, Uuid, LocalDate ...) are small
  if (Object.getPrototypeOf(value) === Object.prototype) return approximateBytes(Object.values(value));
  return 16;
}

/**
 * Estimates a table's NDJSON size from a few thin, evenly spaced slices of the
 * ring. A table of few, large partitions (an organisation's leads in one) shows
 * nothing in slices sized for millions of partitions, so the slices widen
 * (8× at a time, up to the whole ring) until they hold enough partitions or
 * enough bytes to judge by; a slice stops being read once the bytes suffice.
 */
async function estimateTableBytes(client: cassandra.Client, keyspace: string, table: TableSchema, codecs: readonly ValueCodec[]): Promise<number> {
  const ring = maxToken - minToken + 1n;
  const plan: TablePlan = { table, codecs: [...codecs], ranges: [] };
  const partitionKey = table.columns.flatMap((c, i) => (c.kind === "partition_key" ? [i] : []));
  for (let fraction = sampleSliceFraction; ; fraction /= 8n) {
    let bytes = 0;
    let partitions = 0;
    let previousKey: string | undefined;
    let slicesRead = 0;
    slices: for (let i = 0n; i < BigInt(sampleSlices); i++) {
      slicesRead++;
      const start = minToken + (ring * i) / BigInt(sampleSlices);
      const end = start + ring / fraction;
      const range = { start, end: end > maxToken ? maxToken : end };
      for await (const page of scanRange(client, keyspace, table, range, 1000)) {
        for (const row of page) {
          const values = row.values();
          bytes += JSON.stringify(encodeAll(plan, values)).length + 1;
          // rows of a partition arrive together: a new key is a new partition
          const key = JSON.stringify(partitionKey.map((k) => String(values[k])));
          if (key !== previousKey) partitions++;
          previousKey = key;
        }
        if (bytes >= sampleEnoughBytes) break slices;
      }
    }
    // the whole table is `fraction` slices' worth (a slice cut short counts whole: a low estimate at worst)
    const scale = Number(fraction) / slicesRead;
    if (partitions >= sampleEnoughPartitions || bytes >= sampleEnoughBytes || fraction <= BigInt(sampleSlices)) return bytes * Math.max(1, scale);
  }
}
