import cassandra from "cassandra-driver";
import { retry, type BackoffPolicy } from "@devenv/core";
import type { SnapshotTable } from "@devenv/protocol";
import { parseCqlType, quoteIdentifier } from "../cql/cql-type.ts";
import { codecFor, type JsonValue, type UserTypes, type ValueCodec } from "../cql/value-codec.ts";
import { SnapshotError } from "../errors.ts";
import type { Semaphore } from "../util/bounded.ts";
import { chunkLines } from "./lines.ts";

type Query = { query: string; params: unknown[] };

export interface LoadLimits {
  /** Shared bound on requests in flight across every chunk being loaded. */
  inFlight: Semaphore;
  /** Rows sent together in an unlogged batch (of one partition for counters). */
  maxBatchRows: number;
  /**
   * Bound on a batch's size, counted in NDJSON bytes, to stay below Cassandra's
   * batch_size_fail_threshold (50 KiB by default); a batch the node still rejects is split.
   */
  maxBatchBytes: number;
  signal: AbortSignal;
}

/**
 * Writes one table's chunks: prepared INSERTs (UPDATE for counters) in unlogged
 * batches of consecutive rows, absent cells left unset so no tombstones are written.
 */
export class TableLoader {
  readonly table: SnapshotTable;
  private readonly client: cassandra.Client;
  private readonly keyspace: string;
  private readonly codecs: ValueCodec[];
  private readonly partitionCount: number;
  private readonly clusteringIndexes: number[];
  private readonly staticIndexes: number[];
  private readonly insertAll: string;
  private readonly insertStatic: string;

  constructor(client: cassandra.Client, keyspace: string, table: SnapshotTable, userTypes: UserTypes) {
    this.client = client;
    this.keyspace = keyspace;
    this.table = table;
    this.codecs = table.columns.map((c) => codecFor(parseCqlType(c.type), userTypes));
    this.partitionCount = table.columns.filter((c) => c.kind === "partition_key").length;
    this.clusteringIndexes = indexesOf(table, "clustering");
    this.staticIndexes = indexesOf(table, "static");
    const all = table.columns.map((_, i) => i);
    this.insertAll = this.insert(all);
    this.insertStatic = this.insert([...Array(this.partitionCount).keys(), ...this.staticIndexes]);
  }

  /**
   * Loads one chunk file. `reconcileCounters` is for a resumed restore: a counter
   * chunk may have been partly applied, so each counter is read and only the
   * difference is added, which makes reapplying exact.
   */
  async loadChunk(path: string, limits: LoadLimits, onRows: (rows: number) => void, reconcileCounters = false): Promise<number> {
    const pending = new Set<Promise<void>>();
    let failure: unknown;
    let rows = 0;
    let group: JsonValue[][] = [];
    let groupKey = "";
    let groupBytes = 0;

    const send = async (batch: JsonValue[][]) => {
      await limits.inFlight.acquire();
      const task = this.write(batch, reconcileCounters)
        .then(() => onRows(batch.length))
        .catch((error: unknown) => {
          failure ??= error;
        })
        .finally(() => {
          limits.inFlight.release();
          pending.delete(task);
        });
      pending.add(task);
    };

    for await (const line of chunkLines(path)) {
      if (failure !== undefined || limits.signal.aborted) break;
      const row = parseRow(line, this.codecs.length, path);
      rows++;
      // Counter batches stay within a partition. Other rows are batched across partitions:
      // a chunk is a token-range scan, so consecutive rows have neighbouring tokens and
      // (on a ring of a few vnodes per node) the same replicas, which is what makes a
      // multi-partition unlogged batch cheap for the coordinator.
      const key = this.table.counter ? JSON.stringify(row.slice(0, this.partitionCount)) : "";
      if (group.length > 0 && (key !== groupKey || group.length >= limits.maxBatchRows || groupBytes + line.length > limits.maxBatchBytes)) {
        await send(group);
        group = [];
        groupBytes = 0;
      }
      group.push(row);
      groupKey = key;
      groupBytes += line.length;
    }
    if (group.length > 0 && failure === undefined && !limits.signal.aborted) await send(group);
    await Promise.all(pending);
    if (failure !== undefined) throw failure;
    if (limits.signal.aborted) throw limits.signal.reason;
    return rows;
  }

  private async write(rows: JsonValue[][], reconcileCounters: boolean): Promise<void> {
    if (this.table.counter) {
      if (reconcileCounters) {
        for (const row of rows) await this.reconcileCounter(row);
        return;
      }
      const queries = rows.map((row) => this.counterUpdate(row)).filter((q): q is Query => q !== undefined);
      if (queries.length === 0) return;
      // counter updates are not idempotent: no retries, a resumed restore reconciles instead
      if (queries.length === 1) await this.client.execute(queries[0]!.query, queries[0]!.params, { prepare: true });
      else await this.client.batch(queries, { prepare: true, logged: false, counter: true });
      return;
    }
    await this.insertBatch(rows.map((row) => this.insertFor(row)));
  }

  private async insertBatch(queries: Query[]): Promise<void> {
    try {
      await retry(
        async () => {
          if (queries.length === 1) await this.client.execute(queries[0]!.query, queries[0]!.params, { prepare: true, isIdempotent: true });
          else await this.client.batch(queries, { prepare: true, logged: false, isIdempotent: true });
        },
        { attempts: 6, policy: overloadBackoff, shouldRetry: isTransient },
      );
    } catch (error) {
      // the node's batch_size_fail_threshold is lower than our byte bound guessed: halve and retry
      if (queries.length > 1 && /batch too large/i.test((error as Error).message)) {
        const half = Math.ceil(queries.length / 2);
        await this.insertBatch(queries.slice(0, half));
        await this.insertBatch(queries.slice(half));
        return;
      }
      throw error;
    }
  }

  /** The INSERTs a row may need: every column, or only the partition's static cells. */
  get insertStatements(): { query: string; columns: number[] }[] {
    return [
      { query: this.insertAll, columns: this.table.columns.map((_, i) => i) },
      { query: this.insertStatic, columns: [...Array(this.partitionCount).keys(), ...this.staticIndexes] },
    ];
  }

  /** Which of `insertStatements` a row needs, and its values decoded for the driver (undefined = unset). */
  boundRow(row: JsonValue[]): { statement: number; values: unknown[] } {
    const { query, params } = this.insertFor(row);
    return { statement: query === this.insertAll ? 0 : 1, values: params };
  }

  /** Parsed rows of one chunk file, checked for shape. */
  async *rowsOf(path: string): AsyncGenerator<JsonValue[]> {
    for await (const line of chunkLines(path)) yield parseRow(line, this.codecs.length, path);
  }

  private insertFor(row: JsonValue[]): Query {
    // a partition that holds only static cells comes back with null clustering columns
    const staticOnly = this.clusteringIndexes.length > 0 && this.clusteringIndexes.some((i) => row[i] === null);
    if (staticOnly) {
      const indexes = [...Array(this.partitionCount).keys(), ...this.staticIndexes];
      return { query: this.insertStatic, params: indexes.map((i) => this.decode(i, row[i]!)) };
    }
    return { query: this.insertAll, params: row.map((value, i) => this.decode(i, value)) };
  }

  private counterUpdate(row: JsonValue[], deltas?: Map<number, bigint>): Query | undefined {
    const keyIndexes = [...Array(this.partitionCount).keys(), ...this.clusteringIndexes];
    const counters = this.table.columns.map((_, i) => i).filter((i) => !keyIndexes.includes(i) && row[i] !== null);
    const values = counters
      .filter((i) => !deltas || deltas.has(i))
      .map((i) => ({ i, delta: deltas ? deltas.get(i)! : BigInt(row[i] as string) }));
    if (values.length === 0) return undefined;
    const q = (i: number) => quoteIdentifier(this.table.columns[i]!.name);
    const query =
      `UPDATE ${quoteIdentifier(this.keyspace)}.${quoteIdentifier(this.table.name)} SET ` +
      values.map(({ i }) => `${q(i)} = ${q(i)} + ?`).join(", ") +
      ` WHERE ${keyIndexes.map((i) => `${q(i)} = ?`).join(" AND ")}`;
    const params = [
      ...values.map(({ delta }) => cassandra.types.Long.fromString(delta.toString())),
      ...keyIndexes.map((i) => this.decode(i, row[i]!)),
    ];
    return { query, params };
  }

  private async reconcileCounter(row: JsonValue[]): Promise<void> {
    const keyIndexes = [...Array(this.partitionCount).keys(), ...this.clusteringIndexes];
    const counterIndexes = this.table.columns.map((_, i) => i).filter((i) => !keyIndexes.includes(i) && row[i] !== null);
    if (counterIndexes.length === 0) return;
    const q = (i: number) => quoteIdentifier(this.table.columns[i]!.name);
    const current = await this.client.execute(
      `SELECT ${counterIndexes.map(q).join(", ")} FROM ${quoteIdentifier(this.keyspace)}.${quoteIdentifier(this.table.name)} WHERE ${keyIndexes
        .map((i) => `${q(i)} = ?`)
        .join(" AND ")}`,
      keyIndexes.map((i) => this.decode(i, row[i]!)),
      { prepare: true },
    );
    const existing = current.first();
    const deltas = new Map<number, bigint>();
    counterIndexes.forEach((i, n) => {
      const have = existing?.get(n) as { toString(): string } | null | undefined;
      const delta = BigInt(row[i] as string) - BigInt(have?.toString() ?? "0");
      // a counter that does not exist yet is written even when its value is 0 (+0 creates the cell)
      if (delta !== 0n || have === null || have === undefined) deltas.set(i, delta);
    });
    const update = this.counterUpdate(row, deltas);
    if (update) await this.client.execute(update.query, update.params, { prepare: true });
  }

  private decode(index: number, value: JsonValue): unknown {
    // null means the cell was absent: leave it unset rather than writing a tombstone
    return value === null ? undefined : this.codecs[index]!.fromJson(value);
  }

  private insert(indexes: number[]): string {
    const names = indexes.map((i) => quoteIdentifier(this.table.columns[i]!.name));
    return `INSERT INTO ${quoteIdentifier(this.keyspace)}.${quoteIdentifier(this.table.name)} (${names.join(", ")}) VALUES (${names
      .map(() => "?")
      .join(", ")})`;
  }
}

function indexesOf(table: SnapshotTable, kind: SnapshotTable["columns"][number]["kind"]): number[] {
  return table.columns.flatMap((c, i) => (c.kind === kind ? [i] : []));
}

function parseRow(line: string, width: number, path: string): JsonValue[] {
  let row: unknown;
  try {
    row = JSON.parse(line);
  } catch {
    throw new SnapshotError("corrupt", `chunk ${path} holds a line that is not JSON`);
  }
  if (!Array.isArray(row) || row.length !== width) {
    throw new SnapshotError("corrupt", `chunk ${path} holds a row with ${Array.isArray(row) ? row.length : "no"} values, expected ${width}`);
  }
  return row as JsonValue[];
}

const transientErrors = new Set(["WriteTimeoutException", "OperationTimedOutError", "NoHostAvailableError", "ResponseError"]);

/** Idempotent writes are retried with backoff when the node is briefly overloaded. */
const overloadBackoff: BackoffPolicy = { initialMs: 150, maxMs: 3_000, jitter: "equal" };

function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = error.name;
  const code = (error as { code?: number }).code;
  // ResponseError codes: 0x1001 overloaded, 0x1100 write timeout, 0x1000 unavailable
  return transientErrors.has(name) && (name !== "ResponseError" || code === 0x1001 || code === 0x1100 || code === 0x1000);
}
