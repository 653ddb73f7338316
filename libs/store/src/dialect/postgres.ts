import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database } from "../database.ts";

const int8Oid = 20;

/** bigint columns (sizes, seq, counts) as numbers: they stay far below 2^53. */
const getTypeParser = ((oid: number, format?: "text" | "binary") =>
  oid === int8Oid && format !== "binary"
    ? (value: string) => Number(value)
    : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser;

export function openPostgres(url: string, poolSize: number): Kysely<Database> {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000, types: { getTypeParser } });
  // an idle connection dropped by the server: the next query gets a fresh one (or reports it)
  pool.on("error", () => {});
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
