import { createHash, randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import type { SnapshotChunk, SnapshotManifest, TransferProgress } from "@devenv/protocol";
import { quoteIdentifier } from "../cql/cql-type.ts";
import type { UserTypes } from "../cql/value-codec.ts";
import { userTypesOf } from "../schema/keyspace-schema.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { clientEncoding } from "../cassandra.ts";
import { SnapshotError } from "../errors.ts";
import { readManifest } from "../manifest.ts";
import { mapBounded, Semaphore } from "../util/bounded.ts";
import { progressReporter } from "../util/progress.ts";
import { ChunkCache } from "./chunk-cache.ts";
import { RestoreJournal, sameTableIds, type TableIds } from "./journal.ts";
import { findLocalNode, importableTables, SSTableImport } from "./sstable-import.ts";
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
  /**
   * "auto" (default): tables without counters or indexes are written as SSTables and
   * imported when the node runs on this machine (see sstable-import.ts), the rest by CQL.
   * "cql": everything by CQL.
   */
  loadPath?: "auto" | "cql";
  /** Where the SSTable helper is compiled once; defaults to workDir. */
  cacheDir?: string;
  /** Told why the SSTable path was not taken or was abandoned for CQL. */
  onNote?: (message: string) => void;
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
  /** Tables written as SSTables and imported, rather than loaded by CQL. */
  importedTables: string[];
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
  const client = options.client;

  // the SSTable helper's JVM starts while chunks download; it touches nothing until asked
  const importable = options.loadPath === "cql" ? new Set<string>() : importableTables(manifest);
  const helper = importable.size === 0 ? Promise.resolve(undefined) : startHelper(options, keyspace);
  // settled once the target's schema exists (or cannot): SSTables are written meanwhile, imported only then
  const schema = settleable();
  let sstableLane: Promise<void> | undefined;
  // a failed restore stops the helper mid-group rather than wait for it
  const laneAbort = new AbortController();
  const laneSignal = AbortSignal.any([signal, laneAbort.signal]);
  try {
    const journalPath = join(options.workDir, "journals", `${keyspace}.ndjson`);
    const identity = { snapshotId: manifest.id, manifestSha256: manifestDigest(manifest), keyspace };
    const previous = await RestoreJournal.read(journalPath, identity, await tableIdsOf(client, keyspace));
    const userTypes = userTypesOf(manifest.schema.types);
    const work = manifest.tables.flatMap((table) => {
      const loader = new TableLoader(client, keyspace, table, userTypes);
      return table.chunks.map((chunk, index) => ({ loader, chunk, key: `${table.name}/${index}/${chunk.sha256}` }));
    });
    const todo = work.filter((w) => !previous?.doneChunks.has(w.key));
    // opened once every chunk is verified: a failed download leaves an earlier restore's journal alone
    const opened: { journal?: RestoreJournal } = {};
    let rows = 0;
    const finished = async (item: LoadItem, loaded: number) => {
      rows += loaded;
      await opened.journal!.markChunkDone(item.key);
      progress.add({ chunksDone: 1, bytesDone: item.chunk.bytes });
    };
    const limits = {
      inFlight: new Semaphore(options.requestConcurrency ?? 256),
      maxBatchRows: options.maxBatchRows ?? 64,
      maxBatchBytes: options.maxBatchBytes ?? 32 * 1024,
      signal,
    };
    const loadByCql = async (items: LoadItem[]) => {
      await schema.settled;
      await mapBounded(items, options.chunkConcurrency ?? 4, async (item) => {
        signal.throwIfAborted();
        const loaded = await item.loader.loadChunk(
          cache.pathOf(item.chunk.sha256),
          limits,
          (n) => progress.add({ rowsDone: n }),
          opened.journal!.resumed && item.loader.table.counter,
        );
        checkRowCount(item, loaded);
        await finished(item, loaded);
      });
    };

    // 1. download and verify everything before touching the target; a table's SSTables are
    //    written as soon as its chunks are verified, and imported once the schema exists
    const chunks = manifest.tables.flatMap((t) => t.chunks);
    const cache = new ChunkCache(join(options.workDir, "chunks"));
    const verified = new Map(chunks.map((c) => [c.sha256, settleable()]));
    const bySSTables = importable.size === 0 ? [] : todo.filter((w) => importable.has(w.loader.table.name));
    const importedTables = [...new Set(bySSTables.map((w) => w.loader.table.name))];
    const cqlItems = todo.filter((w) => !bySSTables.includes(w));
    sstableLane = runSSTableLane(helper, bySSTables, importedTables, {
      chunksVerified: (items) => Promise.all(items.map((w) => verified.get(w.chunk.sha256)!.settled)),
      importItems: (sstableHelper, group) =>
        importGroup(sstableHelper, client, keyspace, manifest, userTypes, group, {
          onRows: (n) => progress.add({ rowsDone: n }),
          cache,
          finished,
          signal: laneSignal,
          onNote: options.onNote,
          beforeImport: () => schema.settled,
        }),
      loadByCql,
      onNote: options.onNote,
      signal: laneSignal,
    });
    // a failure it meets while the download runs (a chunk's rows not as the manifest says)
    // ends the restore before the target is touched
    let laneFailure: { error: unknown } | undefined;
    sstableLane.catch((error: unknown) => (laneFailure = { error }));
    progress.update({ phase: "download", bytesTotal: manifest.totals.bytes, chunksTotal: chunks.length, rowsTotal: manifest.totals.rows });
    const fetched = await cache
      .fill(options.store, chunks, {
        concurrency: options.downloadConcurrency ?? 4,
        onBytes: (n) => progress.add({ bytesDone: n }),
        onChunk: (chunk) => {
          verified.get(chunk.sha256)?.resolve();
          progress.add({ chunksDone: 1 });
        },
      })
      .catch((error: unknown) => {
        for (const v of verified.values()) v.reject(error);
        throw error;
      });
    signal.throwIfAborted();
    if (laneFailure) throw laneFailure.error;
    const downloadDone = Date.now();

    // 2. resume or start over; a schema this node rejects never costs an existing target
    if (previous && !sameTableIds(previous.tableIds, await tableIdsOf(client, keyspace))) {
      // chunks journalled as loaded were skipped above: their rows went with the dropped tables
      await rm(journalPath, { force: true });
      throw new SnapshotError(
        "failed",
        `target keyspace ${keyspace} was dropped or recreated while the snapshot downloaded; nothing was written to it — run the restore again to start over`,
      );
    }
    const journal = await RestoreJournal.open(journalPath, identity, previous, now());
    opened.journal = journal;
    progress.update({ phase: "schema", bytesDone: 0, chunksDone: 0 });
    if (!journal.resumed) {
      const targetExists = await keyspaceExists(client, keyspace);
      if (targetExists) {
        await tryScratchSchema(client, manifest, replication);
        signal.throwIfAborted();
        await createKeyspace(client, keyspace, manifest, replication);
      } else {
        // nothing to lose: the target itself is the trial, dropped again when rejected
        await createKeyspace(client, keyspace, manifest, replication).catch(async (error: unknown) => {
          await client.execute(`DROP KEYSPACE IF EXISTS ${quoteIdentifier(keyspace)}`).catch(() => {});
          throw schemaConflict(manifest, error);
        });
      }
      await journal.markSchemaCreated(await tableIdsOf(client, keyspace));
    }
    const schemaDone = Date.now();

    // 3. load every chunk not yet journalled (rows written as SSTables so far are counted already)
    const alreadyDone = work.filter((w) => journal.doneChunks.has(w.key));
    progress.update({
      phase: "load",
      chunksDone: alreadyDone.length,
      rowsDone: progress.snapshot().rowsDone + alreadyDone.reduce((n, w) => n + w.chunk.rows, 0),
      bytesDone: alreadyDone.reduce((n, w) => n + w.chunk.bytes, 0),
    });
    schema.resolve();
    await Promise.all([loadByCql(cqlItems), sstableLane]);
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
      importedTables,
      seconds: {
        download: (downloadDone - started) / 1000,
        schema: (schemaDone - downloadDone) / 1000,
        load: (end - schemaDone) / 1000,
        total: (end - started) / 1000,
      },
    };
  } catch (error) {
    // the lane stops at once: nothing it wrote is imported
    schema.reject(error);
    laneAbort.abort(error);
    await sstableLane?.catch(() => {});
    throw error;
  } finally {
    await (await helper.catch(() => undefined))?.close();
  }
}

/** A promise settled from outside; `settled` never counts as an unhandled rejection. */
function settleable(): { settled: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const settled = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  settled.catch(() => {});
  return { settled, resolve, reject };
}

/**
 * The SSTable tables' groups, one after another: each written once its chunks are verified
 * and imported once the schema exists; after a helper failure, the rest goes by CQL.
 */
async function runSSTableLane(
  started: Promise<SSTableImport | undefined>,
  items: LoadItem[],
  importedTables: string[],
  lane: {
    chunksVerified: (items: LoadItem[]) => Promise<unknown>;
    importItems: (helper: SSTableImport, group: LoadItem[]) => Promise<void>;
    loadByCql: (items: LoadItem[]) => Promise<void>;
    onNote: ((message: string) => void) | undefined;
    signal: AbortSignal;
  },
): Promise<void> {
  if (items.length === 0) return;
  const helper = await started;
  if (!helper) {
    importedTables.length = 0;
    await lane.loadByCql(items);
    return;
  }
  const groups = importGroups(items);
  for (let g = 0; g < groups.length; g++) {
    lane.signal.throwIfAborted();
    await lane.chunksVerified(groups[g]!);
    try {
      await lane.importItems(helper, groups[g]!);
    } catch (error) {
      if (error instanceof SnapshotError || lane.signal.aborted) throw error;
      // rewriting rows is exact for tables without counters, so the rest goes by CQL
      lane.onNote?.(`SSTable import failed (${(error as Error).message}); loading the rest by CQL`);
      importedTables.splice(0, importedTables.length, ...new Set(groups.slice(0, g).flat().map((w) => w.loader.table.name)));
      await lane.loadByCql(groups.slice(g).flat());
      return;
    }
  }
}

interface LoadItem {
  loader: TableLoader;
  chunk: SnapshotChunk;
  key: string;
}

function checkRowCount(item: LoadItem, loaded: number): void {
  if (loaded !== item.chunk.rows) {
    throw new SnapshotError(
      "corrupt",
      `chunk ${item.chunk.sha256} of ${item.loader.table.name} holds ${loaded} rows, the manifest says ${item.chunk.rows}`,
    );
  }
}

/** Starts the SSTable helper when the node is local; undefined (CQL for all) when it cannot be used. */
async function startHelper(options: RestoreOptions, keyspace: string): Promise<SSTableImport | undefined> {
  try {
    const node = await findLocalNode(options.client);
    if (!node) {
      options.onNote?.("the node is not on this machine: loading by CQL");
      return undefined;
    }
    return await SSTableImport.start(node, {
      cacheDir: options.cacheDir ?? options.workDir,
      sstableDir: join(options.workDir, "sstables", keyspace),
      encodingOptions: { encoding: clientEncoding },
    });
  } catch (error) {
    options.onNote?.(`cannot write SSTables here (${(error as Error).message}); loading by CQL`);
    return undefined;
  }
}

/** Consecutive chunks of one table, imported (and journalled) together. */
function importGroups(items: LoadItem[]): LoadItem[][] {
  const groups: LoadItem[][] = [];
  let rawBytes = 0;
  for (const item of items) {
    const last = groups.at(-1);
    if (!last || last[0]!.loader !== item.loader || rawBytes + item.chunk.rawBytes > importGroupRawBytes) {
      groups.push([item]);
      rawBytes = 0;
    } else {
      last.push(item);
    }
    rawBytes += item.chunk.rawBytes;
  }
  return groups;
}

/** A killed restore redoes at most this much NDJSON of a table; each import costs the node little. */
const importGroupRawBytes = 256 * 1024 * 1024;

/** Threads the SSTable helper writes with: the rest of a restore costs little CPU meanwhile. */
const sstableWriters = Math.min(2, availableParallelism());

/**
 * Imports one group: the helper reads, binds and writes the chunk files itself; when it
 * meets a value it does not read exactly as the driver would, the rows are parsed and
 * encoded here and streamed to it instead.
 */
async function importGroup(
  helper: SSTableImport,
  client: cassandra.Client,
  keyspace: string,
  manifest: SnapshotManifest,
  userTypes: UserTypes,
  items: LoadItem[],
  context: {
    onRows: (n: number) => void;
    cache: ChunkCache;
    finished: (item: LoadItem, loaded: number) => Promise<void>;
    signal: AbortSignal;
    onNote: ((message: string) => void) | undefined;
    /** Resolves once the target's schema exists: nothing is imported before. */
    beforeImport: () => Promise<void>;
  },
): Promise<void> {
  const { onRows, cache, finished, signal } = context;
  const loader = items[0]!.loader;
  let reported = 0;
  const byHelper = await helper.importFiles(
    keyspace,
    loader.table,
    manifest,
    userTypes,
    loader.insertStatements,
    items.map((item) => ({ path: cache.pathOf(item.chunk.sha256), rows: item.chunk.rows })),
    {
      workers: sstableWriters,
      onRows: (n) => {
        reported += n;
        onRows(n);
      },
      signal,
      beforeImport: context.beforeImport,
    },
  );
  if ("rows" in byHelper) {
    items.forEach((item, i) => checkRowCount(item, byHelper.rows[i] ?? -1));
    for (const [i, item] of items.entries()) await finished(item, byHelper.rows[i]!);
    return;
  }
  onRows(-reported);
  // the rows are encoded for the target's table as the driver sees it: once it exists
  await context.beforeImport();
  context.onNote?.(`the SSTable writer does not read every value of ${loader.table.name} as the driver would (${byHelper.unparsed}); encoding its rows here`);

  const metadata = await client.metadata.getTable(keyspace, loader.table.name);
  if (!metadata) throw new Error(`table ${keyspace}.${loader.table.name} is not in the driver's metadata`);
  const statements = loader.insertStatements;
  const typeInfos = statements.map((s) => s.columns.map((i) => metadata.columnsByName[loader.table.columns[i]!.name]!.type));
  const counts: number[] = [];
  await helper.importRows(
    keyspace,
    loader.table,
    manifest,
    typeInfos,
    statements.map((s) => s.query),
    async function* () {
      for (const item of items) {
        signal.throwIfAborted();
        let loaded = 0;
        for await (const row of loader.rowsOf(cache.pathOf(item.chunk.sha256))) {
          yield loader.boundRow(row);
          if (++loaded % 1000 === 0) onRows(1000);
        }
        onRows(loaded % 1000);
        checkRowCount(item, loaded);
        counts.push(loaded);
      }
    },
    { signal, beforeImport: context.beforeImport },
  );
  for (const [i, item] of items.entries()) await finished(item, counts[i]!);
}

function schemaConflict(manifest: SnapshotManifest, error: unknown): SnapshotError {
  return new SnapshotError(
    "schema-conflict",
    `this Cassandra rejects the schema of snapshot "${manifest.id}": ${(error as Error).message}; the target keyspace was not touched`,
    { cause: error },
  );
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

/** The ids of the keyspace's tables: a keyspace dropped and created again has new ones. */
async function tableIdsOf(client: cassandra.Client, keyspace: string): Promise<TableIds> {
  const result = await client.execute("SELECT table_name, id FROM system_schema.tables WHERE keyspace_name = ?", [keyspace], { prepare: true });
  return Object.fromEntries(result.rows.map((row) => [String(row.get("table_name")), String(row.get("id"))]));
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
    throw schemaConflict(manifest, error);
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
