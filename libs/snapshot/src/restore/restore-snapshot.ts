import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import type { SnapshotManifest, TransferProgress } from "@devenv/protocol";
import { quoteIdentifier } from "../cql/cql-type.ts";
import { userTypesOf } from "../schema/keyspace-schema.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { SnapshotError } from "../errors.ts";
import { readManifest } from "../manifest.ts";
import { mapBounded, Semaphore } from "../util/bounded.ts";
import { progressReporter } from "../util/progress.ts";
import { ChunkCache } from "./chunk-cache.ts";
import { RestoreJournal } from "./journal.ts";
import { TableLoader } from "./table-loader.ts";

export interface RestoreOptions {
  store: BlobStore;
  snapshotId: string;
  client: cassandra.Client;
  /** Keyspace to (re)create; defaults to the snapshot's source keyspace. */
  keyspace?: string;
  /** CQL replication map for the target; SimpleStrategy with RF 1 by default. */
  replication?: string;
  /** Holds the chunk cache and restore journals. */
  workDir: string;
  downloadConcurrency?: number;
  /** Chunks loaded at once. */
  chunkConcurrency?: number;
  /** Requests in flight against Cassandra. */
  requestConcurrency?: number;
  maxBatchRows?: number;
  maxBatchBytes?: number;
  onProgress?: (progress: TransferProgress) => void;
  signal?: AbortSignal;
  now?: () => Date;
}

export interface RestoreResult {
  snapshotId: string;
  keyspace: string;
  rows: number;
  chunks: number;
  chunksDownloaded: number;
  bytesDownloaded: number;
  resumed: boolean;
  seconds: { download: number; schema: number; load: number; total: number };
}

export const defaultReplication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";

/**
 * Restores a snapshot into a keyspace. Safety order: every chunk is downloaded
 * and verified, and the schema is tried on a scratch keyspace, before the
 * target keyspace is dropped; a killed restore resumes from its journal.
 */
export async function restoreSnapshot(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const now = options.now ?? (() => new Date());
  const signal = options.signal ?? new AbortController().signal;
  const progress = progressReporter("restore", options.onProgress);
  const manifest = await readManifest(options.store, options.snapshotId);
  const keyspace = options.keyspace ?? manifest.source.keyspace;
  validateKeyspaceName(keyspace);
  const replication = options.replication ?? defaultReplication;
  validateReplication(replication);

  // 1. download and verify everything before touching the target
  const chunks = manifest.tables.flatMap((t) => t.chunks);
  const cache = new ChunkCache(join(options.workDir, "chunks"));
  progress.update({ phase: "download", bytesTotal: manifest.totals.bytes, chunksTotal: chunks.length, rowsTotal: manifest.totals.rows });
  const fetched = await cache.fill(options.store, chunks, {
    concurrency: options.downloadConcurrency ?? 8,
    onBytes: (n) => progress.add({ bytesDone: n }),
    onChunk: () => progress.add({ chunksDone: 1 }),
  });
  signal.throwIfAborted();
  const downloadDone = Date.now();

  // 2. resume or start over; the schema is proven on a scratch keyspace first
  const journal = await RestoreJournal.open(
    join(options.workDir, "journals", `${keyspace}.ndjson`),
    { snapshotId: manifest.id, manifestSha256: manifestDigest(manifest), keyspace },
    now(),
  );
  const client = options.client;
  const targetExists = await keyspaceExists(client, keyspace);
  progress.update({ phase: "schema", bytesDone: 0, chunksDone: 0 });
  if (!(journal.resumed && journal.schemaCreated && targetExists)) {
    await tryScratchSchema(client, manifest, replication);
    signal.throwIfAborted();
    await createKeyspace(client, keyspace, manifest, replication);
    await journal.markSchemaCreated();
  }
  const schemaDone = Date.now();

  // 3. load every chunk not yet journalled, at bounded concurrency
  const userTypes = userTypesOf(manifest.schema.types);
  const inFlight = new Semaphore(options.requestConcurrency ?? 256);
  const limits = {
    inFlight,
    maxBatchRows: options.maxBatchRows ?? 64,
    maxBatchBytes: options.maxBatchBytes ?? 32 * 1024,
    signal,
  };
  const work = manifest.tables.flatMap((table) => {
    const loader = new TableLoader(client, keyspace, table, userTypes);
    return table.chunks.map((chunk, index) => ({ loader, chunk, key: `${table.name}/${index}/${chunk.sha256}` }));
  });
  const alreadyDone = work.filter((w) => journal.doneChunks.has(w.key));
  progress.update({
    phase: "load",
    chunksDone: alreadyDone.length,
    rowsDone: alreadyDone.reduce((n, w) => n + w.chunk.rows, 0),
    bytesDone: alreadyDone.reduce((n, w) => n + w.chunk.bytes, 0),
  });
  let rows = 0;
  await mapBounded(
    work.filter((w) => !journal.doneChunks.has(w.key)),
    options.chunkConcurrency ?? 4,
    async ({ loader, chunk, key }) => {
      signal.throwIfAborted();
      const loaded = await loader.loadChunk(
        cache.pathOf(chunk.sha256),
        limits,
        (n) => progress.add({ rowsDone: n }),
        journal.resumed && loader.table.counter,
      );
      if (loaded !== chunk.rows) {
        throw new SnapshotError("corrupt", `chunk ${chunk.sha256} of ${loader.table.name} holds ${loaded} rows, the manifest says ${chunk.rows}`);
      }
      rows += loaded;
      await journal.markChunkDone(key);
      progress.add({ chunksDone: 1, bytesDone: chunk.bytes });
    },
  );
  await journal.remove();
  const end = Date.now();
  progress.update({ phase: "done" }, true);
  return {
    snapshotId: manifest.id,
    keyspace,
    rows: rows + alreadyDone.reduce((n, w) => n + w.chunk.rows, 0),
    chunks: work.length,
    chunksDownloaded: fetched.downloaded,
    bytesDownloaded: fetched.bytesDownloaded,
    resumed: journal.resumed,
    seconds: {
      download: (downloadDone - started) / 1000,
      schema: (schemaDone - downloadDone) / 1000,
      load: (end - schemaDone) / 1000,
      total: (end - started) / 1000,
    },
  };
}

function manifestDigest(manifest: SnapshotManifest): string {
  return createHash("sha256").update(JSON.stringify(manifest)).digest("hex");
}

function validateKeyspaceName(name: string): void {
  if (!/^[A-Za-z0-9_]{1,48}$/.test(name)) {
    throw new SnapshotError("invalid-input", `invalid keyspace name "${name}": use up to 48 letters, digits or '_'`);
  }
  if (name.startsWith("system")) throw new SnapshotError("invalid-input", `refusing to restore into system keyspace "${name}"`);
}

function validateReplication(replication: string): void {
  if (!/^\{[^;]*\}$/.test(replication.trim())) {
    throw new SnapshotError("invalid-input", `invalid replication "${replication}": expected a CQL map such as ${defaultReplication}`);
  }
}

async function keyspaceExists(client: cassandra.Client, keyspace: string): Promise<boolean> {
  const result = await client.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", [keyspace], {
    prepare: true,
  });
  return result.rowLength > 0;
}

/** Runs the snapshot's DDL in a throwaway keyspace so a schema this node rejects never costs the target. */
async function tryScratchSchema(client: cassandra.Client, manifest: SnapshotManifest, replication: string): Promise<void> {
  const scratch = `devenv_check_${randomBytes(6).toString("hex")}`;
  try {
    await createKeyspace(client, scratch, manifest, replication);
  } catch (error) {
    throw new SnapshotError(
      "schema-conflict",
      `this Cassandra rejects the schema of snapshot "${manifest.id}": ${(error as Error).message}; the target keyspace was not touched`,
      { cause: error },
    );
  } finally {
    await client.execute(`DROP KEYSPACE IF EXISTS ${scratch}`).catch(() => {});
  }
}

async function createKeyspace(client: cassandra.Client, keyspace: string, manifest: SnapshotManifest, replication: string): Promise<void> {
  const ks = quoteIdentifier(keyspace);
  await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
  await client.execute(`CREATE KEYSPACE ${ks} WITH replication = ${replication}`);
  for (const statement of manifest.schema.statements) {
    await client.execute(qualify(statement, ks));
  }
}

/** Statements are stored unqualified; the target keyspace is added to the object they create. */
function qualify(statement: string, keyspace: string): string {
  return statement
    .replace(/^CREATE (TYPE|TABLE) /, (m) => `${m}${keyspace}.`)
    .replace(/^(CREATE INDEX \S+ ON )/, (m) => `${m}${keyspace}.`);
}
