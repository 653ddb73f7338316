import cassandra from "cassandra-driver";
import { splitRing } from "@devenv/snapshot";
import type { BenchShape, ShapeColumn } from "./data-shapes.ts";
import { SeededRandom } from "./seeded-random.ts";

const { types } = cassandra;

export interface LoadCheck {
  /** Rows in the table, counted range by range. */
  rows: number;
  /** Rows read back by primary key and compared with the generator, column by column. */
  sampled: number;
  /** The first few differences, described. */
  mismatches: string[];
}

const countRanges = 64;
const countConcurrency = 4;

/**
 * Counts the rows of a loaded table and compares a spread sample of them with what the
 * generator made: a loader that drops rows or changes a value (a rounded double, a
 * shifted timestamp, a mangled quote) fails here, not only one that loses rows.
 */
export async function checkLoadedTable(
  client: cassandra.Client,
  keyspace: string,
  shape: BenchShape,
  seed: number,
  loadedRows: number,
  sampleSize = 200,
): Promise<LoadCheck> {
  const rows = await countRows(client, keyspace, shape);
  const mismatches: string[] = [];
  const indexes = sampleIndexes(seed, loadedRows, sampleSize);
  const select =
    `SELECT ${shape.columns.map((c) => c.name).join(", ")} FROM ${keyspace}.${shape.table} ` +
    `WHERE ${shape.primaryKey.map((k) => `${k} = ?`).join(" AND ")}`;
  const keyPositions = shape.primaryKey.map((k) => shape.columns.findIndex((c) => c.name === k));
  for (const index of indexes) {
    const expected = shape.rowAt(seed, index);
    const result = await client.execute(
      select,
      keyPositions.map((i) => expected[i]),
      { prepare: true, readTimeout: 60_000 },
    );
    const actual = result.first();
    const difference = actual
      ? shape.columns.map((column, i) => differenceIn(column, expected[i], actual.get(i))).find((d) => d !== undefined)
      : "row missing";
    if (difference !== undefined && mismatches.length < 5) mismatches.push(`row ${index}: ${difference}`);
  }
  return { rows, sampled: indexes.length, mismatches };
}

/** count(*) per token range: no single request has to scan the whole table within the server's timeout. */
async function countRows(client: cassandra.Client, keyspace: string, shape: BenchShape): Promise<number> {
  const token = `token(${shape.partitionKey.join(", ")})`;
  const query = `SELECT count(*) FROM ${keyspace}.${shape.table} WHERE ${token} > ? AND ${token} <= ?`;
  const ranges = splitRing(countRanges);
  let next = 0;
  let total = 0;
  const worker = async () => {
    while (next < ranges.length) {
      const range = ranges[next++]!;
      const params = [types.Long.fromString(range.start.toString()), types.Long.fromString(range.end.toString())];
      const result = await client.execute(query, params, { prepare: true, readTimeout: 120_000, isIdempotent: true });
      total += Number(result.first()?.get(0) ?? 0);
    }
  };
  await Promise.all(Array.from({ length: countConcurrency }, worker));
  return total;
}

/** The first and last row plus one random row from each of `size` equal slices. */
function sampleIndexes(seed: number, rows: number, size: number): number[] {
  if (rows === 0) return [];
  const picked = new Set<number>([0, rows - 1]);
  const slice = rows / size;
  for (let k = 0; k < size && picked.size < rows; k++) {
    picked.add(Math.min(rows - 1, Math.floor(k * slice + new SeededRandom(seed, 9, k).double() * slice)));
  }
  return [...picked].sort((a, b) => a - b);
}

function differenceIn(column: ShapeColumn, expected: unknown, actual: unknown): string | undefined {
  const same = (() => {
    if (actual === null || actual === undefined) return false;
    switch (column.type) {
      case "bigint":
      case "uuid":
        return String(expected) === String(actual);
      case "int":
      case "text":
        return expected === actual;
      case "double":
        return Object.is(expected, actual);
      case "timestamp":
        return (expected as Date).getTime() === (actual as Date).getTime();
    }
  })();
  if (same) return undefined;
  const show = (v: unknown) => (v instanceof Date ? `${v.toISOString()} (${v.getTime()})` : JSON.stringify(String(v)).slice(0, 120));
  return `${column.name} is ${show(actual)}, expected ${show(expected)}`;
}
