import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { services, uniqueName } from "@devenv/testing";
import type { Clock } from "@devenv/core";
import { openStore } from "../open-store.ts";
import type { Store, StoreDialect } from "../store.ts";

/** Every test file runs its cases once per dialect. */
export const dialects: StoreDialect[] = ["sqlite", "postgres"];

/** Where the tests' ManualClock starts: a fixed time keeps expected timestamps readable. */
export const storeTestEpoch = "2026-05-01T10:00:00.000Z";

export interface StoreHarness {
  dialect: StoreDialect;
  /** A url naming a database nobody used yet: a new SQLite file or a new PostgreSQL database. */
  newUrl(): Promise<string>;
  /** Opens a store that cleanup() closes. */
  open(url: string, clock?: Clock): Promise<Store>;
  /** open(await newUrl()). */
  fresh(clock?: Clock): Promise<Store>;
  /** The url a store was opened with: a second store on it acts as another replica. */
  urlOf(store: Store): string;
  /** Closes every store opened here, drops the databases, removes the temp dir. */
  cleanup(): Promise<void>;
}

export function storeHarness(dialect: StoreDialect): StoreHarness {
  const opened: Store[] = [];
  const urls = new Map<Store, string>();
  const databases: string[] = [];
  let tempDir: string | undefined;

  async function newUrl(): Promise<string> {
    if (dialect === "sqlite") {
      tempDir ??= mkdtempSync(join(tmpdir(), "devenv-store-test-"));
      return `sqlite:${join(tempDir, `${uniqueName("store")}.db`)}`;
    }
    const name = uniqueName("store");
    await withAdmin((client) => client.query(`create database ${client.escapeIdentifier(name)}`));
    databases.push(name);
    const url = new URL(services().postgres.url);
    url.pathname = `/${name}`;
    return url.toString();
  }

  async function open(url: string, clock?: Clock): Promise<Store> {
    const store = await openStore(clock ? { url, clock } : { url });
    opened.push(store);
    urls.set(store, url);
    return store;
  }

  return {
    dialect,
    newUrl,
    open,
    fresh: async (clock) => open(await newUrl(), clock),
    urlOf(store) {
      const url = urls.get(store);
      if (url === undefined) throw new Error("this store was not opened by this harness");
      return url;
    },
    async cleanup() {
      await Promise.all(opened.splice(0).map((store) => store.close()));
      if (databases.length > 0) {
        await withAdmin(async (client) => {
          for (const name of databases.splice(0)) {
            await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
          }
        });
      }
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
    },
  };
}

async function withAdmin<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: services().postgres.url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
