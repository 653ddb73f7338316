import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import { ChunkWriter, chunkLines, stageChunks, type BlobStore, type StagedChunk, type TablePlan } from "@devenv/snapshot";
import { ShrinkError } from "../errors.ts";
import { planShrink } from "../plan/shrink-plan.ts";
import { ShrinkRules } from "../rules/rules-schema.ts";
import { getSealedBuffer, getSealedFile, putSealedBuffer, putSealedFile, sealingKey } from "./sealed-objects.ts";
import { KeySet } from "./key-set.ts";
import { ShrinkScan } from "./shrink-scan.ts";
import {
  finishShrink,
  prepareShrink,
  progressReporter,
  tablePlansOf,
  type PreparedShrink,
  type ShrinkOptions,
  type ShrinkProgress,
  type ShrinkResult,
} from "./shrink-snapshot.ts";

/**
 * A shrink split into parts that run anywhere (several job runners, several
 * hosts): one plan, written first; each part scans its share of the token
 * ranges and leaves its staged chunks and findings in the blob store's work
 * area, sealed; the finish merges every part's findings, runs the free-text
 * pass and the audit over all chunks, and publishes. The work area is removed
 * once the snapshot is published or abandoned.
 */
export const shrinkWorkKeys = {
  prefix: (snapshotId: string) => `work/shrink/${snapshotId}/`,
  plan: (snapshotId: string) => `work/shrink/${snapshotId}/plan`,
  partState: (snapshotId: string, part: number) => `work/shrink/${snapshotId}/parts/${part}`,
  stagedChunk: (snapshotId: string, table: string, index: number) => `work/shrink/${snapshotId}/chunks/${table}-${index}`,
};

// 2: lookup keys as fingerprints (KeySet), no expected PII count
const planFormat = 2;

export interface PlannedShrink {
  snapshotId: string;
  /** Parts to run, indexes 0 … parts − 1: no more than the chunks there are. */
  parts: number;
  chunks: number;
}

/** Step 1 of a shrink in parts: checks the rules, resolves the kept organisations and writes the plan for the parts. */
export async function planShrinkParts(options: ShrinkOptions & { parts: number }): Promise<PlannedShrink> {
  if (!Number.isSafeInteger(options.parts) || options.parts < 1) throw new ShrinkError("invalid-input", `parts must be a whole number >= 1, got ${options.parts}`);
  const prepared = await prepareShrink(options);
  const chunks = Object.values(prepared.chunkCounts).reduce((n, c) => n + c, 0);
  const parts = Math.max(1, Math.min(options.parts, chunks));
  const document = {
    format: planFormat,
    parts,
    snapshotId: prepared.snapshotId,
    keyspace: prepared.keyspace,
    rules: prepared.rules,
    org: prepared.org ?? null,
    createdAt: prepared.createdAt.toISOString(),
    asOf: prepared.asOf.toISOString(),
    fullSchema: prepared.fullSchema,
    schema: prepared.schema,
    chunkCounts: prepared.chunkCounts,
    scope: {
      kept: [...prepared.scope.kept],
      orgsByKind: prepared.scope.orgsByKind,
      viaKept: Object.fromEntries([...prepared.scope.viaKept].map(([k, keys]) => [k, keys.toBase64()])),
    },
  };
  await putSealedBuffer(options.store, shrinkWorkKeys.plan(prepared.snapshotId), sealingKey(options.secret), Buffer.from(JSON.stringify(document)));
  return { snapshotId: prepared.snapshotId, parts, chunks };
}

interface PlanDocument {
  format: number;
  parts: number;
  snapshotId: string;
  keyspace: string;
  rules: unknown;
  org: string | null;
  createdAt: string;
  asOf: string;
  fullSchema: PreparedShrink["fullSchema"];
  schema: PreparedShrink["schema"];
  chunkCounts: Record<string, number>;
  scope: { kept: string[]; orgsByKind: Record<string, number>; viaKept: Record<string, string> };
}

async function readPlan(store: BlobStore, snapshotId: string, sealKey: Buffer): Promise<{ prepared: PreparedShrink; parts: number }> {
  const document = JSON.parse((await getSealedBuffer(store, shrinkWorkKeys.plan(snapshotId), sealKey)).toString("utf8")) as PlanDocument;
  if (document.format !== planFormat) throw new ShrinkError("failed", `the shrink plan of ${snapshotId} has format ${document.format}; this version reads ${planFormat}`);
  const rules = ShrinkRules.parse(document.rules);
  return {
    parts: document.parts,
    prepared: {
      snapshotId: document.snapshotId,
      keyspace: document.keyspace,
      rules,
      org: document.org ?? undefined,
      createdAt: new Date(document.createdAt),
      asOf: new Date(document.asOf),
      fullSchema: document.fullSchema,
      schema: document.schema,
      plan: planShrink(rules, document.fullSchema),
      chunkCounts: document.chunkCounts,
      scope: {
        kept: new Set(document.scope.kept),
        orgsByKind: document.scope.orgsByKind,
        viaKept: new Map(Object.entries(document.scope.viaKept).map(([k, keys]) => [k, KeySet.fromBase64(keys)])),
      },
    },
  };
}

/** Part `part` owns every `parts`-th chunk of the plan, tables in order: big tables have many chunks, so parts even out. */
function rangesOfPart(plans: readonly TablePlan[], part: number, parts: number): { plan: TablePlan; indexes: number[] }[] {
  let position = 0;
  return plans.map((plan) => {
    const indexes: number[] = [];
    for (let i = 0; i < plan.ranges.length; i++, position++) if (position % parts === part) indexes.push(i);
    return { plan, indexes };
  });
}

export interface ShrinkPartOptions {
  /** The source cluster (only parts and the plan read it). */
  client: cassandra.Client;
  store: BlobStore;
  secret: Buffer;
  snapshotId: string;
  part: number;
  scanConcurrency?: number;
  stagingDir?: string;
  onProgress?: (progress: ShrinkProgress) => void;
}

export interface ShrinkPartResult {
  part: number;
  chunks: number;
  rowsRead: number;
  rowsKept: number;
}

/**
 * Step 2, one part: scans its token ranges through the rules and leaves its
 * staged chunks and its findings, sealed, in the work area. Running a part again
 * (a retried task) overwrites the same objects.
 */
export async function runShrinkPart(options: ShrinkPartOptions): Promise<ShrinkPartResult> {
  const started = Date.now();
  const sealKey = sealingKey(options.secret);
  const { prepared, parts } = await readPlan(options.store, options.snapshotId, sealKey);
  if (!Number.isSafeInteger(options.part) || options.part < 0 || options.part >= parts) {
    throw new ShrinkError("invalid-input", `part ${options.part} does not exist: the shrink of ${options.snapshotId} has parts 0 to ${parts - 1}`);
  }
  const owned = rangesOfPart(tablePlansOf(prepared), options.part, parts);
  const progress = progressReporter(options.onProgress, started);
  const chunksTotal = owned.reduce((n, o) => n + o.indexes.length, 0);
  const staging = await mkdtemp(join(options.stagingDir ?? tmpdir(), "devenv-shrink-part-"));
  const scan = new ShrinkScan({ ...prepared, secret: options.secret, spillDir: staging });
  try {
    const chunks: StagedChunk[] = [];
    let rowsRead = 0;
    await stageChunks({
      client: options.client,
      keyspace: prepared.keyspace,
      plans: owned.map(({ plan, indexes }) => ({ ...plan, ranges: indexes.map((i) => plan.ranges[i]!) })),
      stagingDir: staging,
      concurrency: options.scanConcurrency ?? 4,
      mapRow: scan.mapRow,
      screen: scan.screen,
      onRowsRead: (_plan, rows) => {
        rowsRead += rows;
        progress({ phase: "scan", rowsDone: rowsRead, chunksDone: chunks.length, chunksTotal });
      },
      // into the work area at once, so a part's disk use stays at a few chunks
      onChunk: async (chunk) => {
        const index = owned.find((o) => o.plan.table.name === chunk.table)!.indexes[chunk.index]!;
        await putSealedFile(options.store, shrinkWorkKeys.stagedChunk(options.snapshotId, chunk.table, index), sealKey, chunk.path);
        await rm(chunk.path, { force: true });
        chunks.push({ ...chunk, index, path: "" });
      },
    });
    const statePath = join(staging, "state.ndjson.gz");
    const writer = new ChunkWriter(statePath);
    for (const chunk of chunks) {
      const { path: _local, range, ...meta } = chunk;
      await writer.writeLine(JSON.stringify(["chunk", { ...meta, range: { start: range.start.toString(), end: range.end.toString() } }]));
    }
    for (const line of scan.exportLines()) await writer.writeLine(line);
    await writer.finish();
    await putSealedFile(options.store, shrinkWorkKeys.partState(options.snapshotId, options.part), sealKey, statePath);
    const kept = [...scan.summaries.values()].reduce((n, s) => n + s.rowsKept, 0);
    return { part: options.part, chunks: chunks.length, rowsRead, rowsKept: kept };
  } finally {
    scan.close();
    await rm(staging, { recursive: true, force: true });
  }
}

export interface FinishShrinkPartsOptions {
  store: BlobStore;
  secret: Buffer;
  snapshotId: string;
  stagingDir?: string;
  onProgress?: (progress: ShrinkProgress) => void;
}

/** Step 3, once every part is done: merges the parts, runs the free-text pass and the audit, publishes, and clears the work area. */
export async function finishShrinkParts(options: FinishShrinkPartsOptions): Promise<ShrinkResult> {
  const started = Date.now();
  const sealKey = sealingKey(options.secret);
  const { prepared, parts } = await readPlan(options.store, options.snapshotId, sealKey);
  const staging = await mkdtemp(join(options.stagingDir ?? tmpdir(), "devenv-shrink-finish-"));
  const scan = new ShrinkScan({ ...prepared, secret: options.secret, spillDir: staging });
  try {
    const staged: StagedChunk[] = [];
    for (let part = 0; part < parts; part++) {
      const statePath = join(staging, `part-${part}.ndjson.gz`);
      await getSealedFile(options.store, shrinkWorkKeys.partState(options.snapshotId, part), sealKey, statePath).catch((error: unknown) => {
        throw new ShrinkError("failed", `part ${part} of the shrink of ${options.snapshotId} has not left its results: ${(error as Error).message}`, { cause: error });
      });
      for await (const line of chunkLines(statePath)) {
        if (!line.startsWith('["chunk"')) {
          scan.importLine(line);
          continue;
        }
        const meta = (JSON.parse(line) as [string, Omit<StagedChunk, "path" | "range"> & { range: { start: string; end: string } }])[1];
        const path = join(staging, `${meta.table}-${meta.index}.ndjson.gz`);
        await getSealedFile(options.store, shrinkWorkKeys.stagedChunk(options.snapshotId, meta.table, meta.index), sealKey, path);
        staged.push({ ...meta, path, range: { start: BigInt(meta.range.start), end: BigInt(meta.range.end) } });
      }
      await rm(statePath, { force: true });
    }
    staged.sort((a, b) => a.table.localeCompare(b.table) || a.index - b.index);
    const result = await finishShrink({ prepared, scan, staged, stagingDir: staging, store: options.store, onProgress: options.onProgress, started });
    await discardShrinkWork(options.store, options.snapshotId);
    return result;
  } finally {
    scan.close();
    await rm(staging, { recursive: true, force: true });
  }
}

/** Removes a shrink's work area (after it is published, or when it is abandoned). */
export async function discardShrinkWork(store: BlobStore, snapshotId: string): Promise<void> {
  const keys: string[] = [];
  for await (const key of store.list(shrinkWorkKeys.prefix(snapshotId))) keys.push(key);
  for (const key of keys) await store.delete(key);
}
