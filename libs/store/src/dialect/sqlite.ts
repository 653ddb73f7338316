import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver } from "kysely";
import type { Database } from "../database.ts";
import { localNotifier } from "../notifications/local-notifier.ts";
import type { Notifier } from "../notifications/notifier.ts";
import { translateError } from "../support/translate-error.ts";

/**
 * Transactions take the write lock when they begin (BEGIN IMMEDIATE). A deferred
 * transaction that reads and then writes can find another process holding the write
 * lock and fail at once with SQLITE_BUSY; an immediate one waits out the busy timeout.
 */
class ImmediateTransactionDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }
}

class ImmediateTransactionSqliteDialect extends SqliteDialect {
  readonly #database: BetterSqlite3.Database;

  constructor(database: BetterSqlite3.Database) {
    super({ database });
    this.#database = database;
  }

  override createDriver(): Driver {
    return new ImmediateTransactionDriver({ database: this.#database });
  }
}

interface SharedFile {
  db: Kysely<Database>;
  notifier: Notifier;
  users: number;
}

/**
 * One connection per file per process. better-sqlite3 is synchronous: a second
 * connection in the same thread waiting for the first one's lock would block the very
 * event loop the first one needs to finish. Stores opened on the same file share it,
 * and Kysely serialises its use (transactions included).
 */
const sharedFiles = new Map<string, SharedFile>();

export interface SqliteHandle {
  db: Kysely<Database>;
  notifier: Notifier;
  release(): Promise<void>;
}

export function openSqlite(path: string, busyTimeoutMs: number): SqliteHandle {
  const key = path === ":memory:" ? undefined : path;
  let shared = key === undefined ? undefined : sharedFiles.get(key);
  if (!shared) {
    const dialect = new ImmediateTransactionSqliteDialect(openFile(path, busyTimeoutMs));
    shared = { db: new Kysely<Database>({ dialect }), notifier: localNotifier(), users: 0 };
    if (key !== undefined) sharedFiles.set(key, shared);
  }
  shared.users += 1;
  const file = shared;
  let released = false;
  return {
    db: file.db,
    notifier: file.notifier,
    async release() {
      if (released) return;
      released = true;
      file.users -= 1;
      if (file.users > 0) return;
      if (key !== undefined) sharedFiles.delete(key);
      await file.db.destroy();
    },
  };
}

function openFile(path: string, busyTimeoutMs: number): BetterSqlite3.Database {
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const database = new BetterSqlite3(path);
    // WAL: readers do not block the writer; NORMAL sync loses nothing on a process crash in WAL mode
    database.pragma("journal_mode = WAL");
    database.pragma("synchronous = NORMAL");
    database.pragma(`busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
    database.pragma("foreign_keys = ON");
    return database;
  } catch (error) {
    throw translateError(error, `opening SQLite file ${path}`);
  }
}
