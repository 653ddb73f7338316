import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import { snapshotKeys, type SnapshotManifest, type TransferProgress } from "@devenv/protocol";
import { readKeyspaceSchema, userTypesOf } from "../schema/keyspace-schema.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { SnapshotError } from "../errors.ts";
import { progressReporter } from "../util/progress.ts";
import { buildManifest, planTables, stageChunks, uploadChunk, writeManifest } from "./staging.ts";

export interface ExportOptions {
  client: cassandra.Client;
  keyspace: string;
  tables?: readonly string[];
  store: BlobStore;
  snapshotId?: string;
  description?: string;
  /** Target size of a chunk's NDJSON before compression; the chunk count per table follows from it. */
  targetChunkBytes?: number;
  /** Fixed chunk count for every table (overrides the estimate). */
  chunkCount?: number;
  /** Token ranges scanned at once. */
  scanConcurrency?: number;
  /** Most rows a page may hold; fewer when rows are wide (see pageBytes). */
  pageSize?: number;
  /** Bytes a page of the scan aims at. */
  pageBytes?: number;
  stagingDir?: string;
  onProgress?: (progress: TransferProgress) => void;
  now?: () => Date;
}

/** Scans a keyspace by fixed token ranges into content-addressed chunks plus a manifest. */
export async function exportSnapshot(options: ExportOptions): Promise<SnapshotManifest> {
  const createdAt = (options.now ?? (() => new Date()))();
  const snapshotId = options.snapshotId ?? defaultSnapshotId(options.keyspace, createdAt);
  await assertNewSnapshotId(options.store, snapshotId);
  const schema = await readKeyspaceSchema(options.client, options.keyspace, options.tables);
  const progress = progressReporter("export", options.onProgress);
  const staging = await mkdtemp(join(options.stagingDir ?? tmpdir(), "devenv-export-"));
  try {
    progress.update({ phase: "plan" });
    const plans = await planTables(options.client, schema, userTypesOf(schema.types), options);
    progress.update({ phase: "scan", chunksTotal: plans.reduce((n, p) => n + p.ranges.length, 0) });
    const chunks = await stageChunks({
      client: options.client,
      keyspace: schema.keyspace,
      plans,
      stagingDir: staging,
      concurrency: options.scanConcurrency ?? 4,
      pageSize: options.pageSize,
      pageBytes: options.pageBytes,
      onRowsRead: (_plan, rows) => progress.add({ rowsDone: rows }),
      // upload as soon as a chunk is staged, so staging holds only the chunks in flight
      onChunk: async (chunk) => {
        await uploadChunk(options.store, chunk);
        await rm(chunk.path, { force: true });
        progress.add({ bytesDone: chunk.bytes, chunksDone: 1 });
      },
    });
    const manifest = buildManifest({
      id: snapshotId,
      createdAt,
      description: options.description ?? `keyspace ${schema.keyspace}`,
      schema,
      plans,
      chunks,
    });
    await writeManifest(options.store, manifest);
    progress.update({ phase: "done" }, true);
    return manifest;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export function defaultSnapshotId(keyspace: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z").replace("T", "-");
  return `${keyspace.replace(/[^A-Za-z0-9._-]/g, "_")}-${stamp}`;
}

export async function assertNewSnapshotId(store: BlobStore, snapshotId: string): Promise<void> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(snapshotId)) {
    throw new SnapshotError("invalid-input", `invalid snapshot id "${snapshotId}": use letters, digits, '.', '_' or '-'`);
  }
  if (await store.head(snapshotKeys.manifest(snapshotId))) {
    throw new SnapshotError("invalid-input", `snapshot "${snapshotId}" already exists in ${store.location}`);
  }
}
