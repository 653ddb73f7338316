import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import type { Database } from "../database.ts";
import type { Notifier } from "../notifications/notifier.ts";
import { postgresNotifier } from "../notifications/postgres-notifier.ts";

const int8Oid = 20;

/** bigint columns (sizes, seq, counts) as numbers: they stay far below 2^53. */
const getTypeParser = ((oid: number, format?: "text" | "binary") =>
  oid === int8Oid && format !== "binary"
    ? (value: string) => Number(value)
    : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser;

export interface PostgresHandle {
  db: Kysely<Database>;
  notifier: Notifier;
  release(): Promise<void>;
}

/** A pool for queries plus the notifier's own listening connection (opened on first use). */
export function openPostgres(url: string, poolSize: number): PostgresHandle {
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000, types: { getTypeParser } });
  // an idle connection dropped by the server: the next query gets a fresh one (or reports it)
  pool.on("error", () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const notifier = postgresNotifier(url);
  return {
    db,
    notifier,
    async release() {
      await notifier.close();
      await db.destroy();
    },
  };
}
