import { AsyncLocalStorage } from "node:async_hooks";
import { resolve } from "node:path";
import { sql, type Kysely } from "kysely";
import { Migrator } from "kysely/migration";
import { systemClock, type Clock } from "@devenv/core";
import type { Database } from "./database.ts";
import { openPostgres } from "./dialect/postgres.ts";
import { openSqlite } from "./dialect/sqlite.ts";
import { StoreError } from "./errors.ts";
import { migrationProvider } from "./migrations/index.ts";
import type { NotificationListener, Notifier } from "./notifications/notifier.ts";
import { agentsRepo } from "./repos/agents.ts";
import { apiTokensRepo } from "./repos/api-tokens.ts";
import { assignmentsRepo } from "./repos/assignments.ts";
import { auditRepo } from "./repos/audit.ts";
import { commandsRepo } from "./repos/commands.ts";
import { instancesRepo } from "./repos/instances.ts";
import { jobLogsRepo } from "./repos/job-logs.ts";
import { jobsRepo } from "./repos/jobs.ts";
import { joinTokensRepo } from "./repos/join-tokens.ts";
import { schedulesRepo } from "./repos/schedules.ts";
import { snapshotsRepo } from "./repos/snapshots.ts";
import { usersRepo } from "./repos/users.ts";
import type { Store, StoreDialect, SubscribeOptions } from "./store.ts";
import { inTransaction, runNow, type RepoContext } from "./support/context.ts";
import { guard } from "./support/guard.ts";
import { translateError } from "./support/translate-error.ts";

export interface OpenStoreOptions {
  /** `sqlite:/path/file.db`, `sqlite::memory:`, a bare file path, or `postgres://…`. */
  url: string;
  clock?: Clock;
  /** PostgreSQL pool size (default 10). */
  poolSize?: number;
  /** SQLite: how long a writer waits for another process's lock (default 5000 ms). */
  busyTimeoutMs?: number;
}

export type StoreLocation = { dialect: "sqlite"; path: string } | { dialect: "postgres"; url: string };

/** Which database a store URL names; `invalid-input` for anything else. */
export function parseStoreUrl(url: string): StoreLocation {
  const text = typeof url === "string" ? url.trim() : "";
  if (text === "") throw new StoreError("invalid-input", "store url is empty: give a file path, sqlite:/path/file.db or postgres://…");
  if (/^postgres(ql)?:\/\//i.test(text)) return { dialect: "postgres", url: text };
  if (/^sqlite:/i.test(text)) {
    // sqlite:/abs, sqlite:///abs and sqlite:relative all name a file
    const path = text.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "") throw new StoreError("invalid-input", `store url ${text} names no file`);
    return { dialect: "sqlite", path: path === ":memory:" ? path : resolve(path) };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new StoreError("invalid-input", `store url ${redact(text)}: only sqlite: and postgres:// urls (or a file path) are supported`);
  }
  return { dialect: "sqlite", path: text === ":memory:" ? text : resolve(text) };
}

/**
 * Opens the store and brings its schema to the latest migration. On PostgreSQL the
 * migrator holds an advisory lock, so replicas starting together migrate once.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const location = parseStoreUrl(options.url);
  const { db, notifier, release } =
    location.dialect === "sqlite"
      ? openSqlite(location.path, options.busyTimeoutMs ?? 5_000)
      : openPostgres(location.url, options.poolSize ?? 10);
  try {
    await migrate(db, location.dialect);
  } catch (error) {
    await release().catch(() => {});
    throw translateError(error, `opening the store at ${describe(location)}`);
  }
  let closed: Promise<void> | undefined;
  const root = buildStore({ db, clock: options.clock ?? systemClock, dialect: location.dialect, afterCommit: runNow }, notifier);
  return {
    ...root,
    close() {
      closed ??= release();
      return closed;
    },
  };
}

async function migrate(db: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  if (dialect === "postgres") {
    // the migrator holds an advisory lock: replicas starting together migrate once
    await migrateToLatest(db, dialect);
    return;
  }
  // Kysely takes no lock on SQLite; an immediate transaction around the whole run makes
  // a second process wait (busy timeout) and then find the schema up to date
  await db.connection().execute(async (connection) => {
    await sql`begin immediate`.execute(connection);
    try {
      await migrateToLatest(connection, dialect);
      await sql`commit`.execute(connection);
    } catch (error) {
      await sql`rollback`.execute(connection).catch(() => {});
      throw error;
    }
  });
}

async function migrateToLatest(db: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;
  const failed = results?.find((result) => result.status === "Error")?.migrationName;
  throw translateError(error, failed ? `migration ${failed}` : "migrating the store");
}

/**
 * Marks the async context of a `store.transaction` callback. Calling the outer store
 * from inside it is a mistake with a bad outcome either way: on SQLite it waits forever
 * for the connection the transaction holds; on PostgreSQL it runs outside the
 * transaction. The outer store's repositories refuse such calls instead.
 */
const insideTransactionOf = new AsyncLocalStorage<object>();

function buildStore(ctx: RepoContext, notifier: Notifier): Omit<Store, "close"> {
  const owner = {};
  const refuseInsideOwnTransaction = (operation: string) => {
    if (insideTransactionOf.getStore() !== owner) return;
    throw new StoreError(
      "internal",
      `${operation} was called on the store inside its own transaction; use the store the transaction callback receives`,
    );
  };
  const repo = <T extends object>(name: string, value: T) => guard(name, value, refuseInsideOwnTransaction);
  const store: Omit<Store, "close"> = {
    dialect: ctx.dialect,
    users: repo("users", usersRepo(ctx)),
    tokens: repo("tokens", apiTokensRepo(ctx)),
    snapshots: repo("snapshots", snapshotsRepo(ctx)),
    instances: repo("instances", instancesRepo(ctx)),
    agents: repo("agents", agentsRepo(ctx)),
    joinTokens: repo("joinTokens", joinTokensRepo(ctx)),
    commands: repo("commands", commandsRepo(ctx)),
    assignments: repo("assignments", assignmentsRepo(ctx)),
    jobs: repo("jobs", jobsRepo(ctx)),
    jobLogs: repo("jobLogs", jobLogsRepo(ctx)),
    schedules: repo("schedules", schedulesRepo(ctx)),
    audit: repo("audit", auditRepo(ctx)),
    notifications: repo("notifications", {
      publish: (channel: string, payload: string) => notifier.publish(ctx, channel, payload),
      subscribe: (channel: string, listener: NotificationListener, options?: SubscribeOptions) => notifier.subscribe(channel, listener, options),
    }),
    async transaction(work) {
      // a transaction store's own transaction() joins it (inTransaction sees it is one)
      if (ctx.db.isTransaction) return work({ ...store, close: refuseClose });
      refuseInsideOwnTransaction("transaction");
      try {
        return await insideTransactionOf.run(owner, () =>
          inTransaction(ctx, (tx) => work({ ...buildStore(tx, notifier), close: refuseClose })),
        );
      } catch (error) {
        throw translateError(error, "transaction");
      }
    },
  };
  return store;
}

function refuseClose(): Promise<void> {
  return Promise.reject(new StoreError("invalid-input", "a transaction's store cannot be closed; close the store that opened it"));
}

function describe(location: StoreLocation): string {
  return location.dialect === "sqlite" ? `SQLite file ${location.path}` : `PostgreSQL ${redact(location.url)}`;
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable url)";
  }
}
