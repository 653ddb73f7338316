import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import type { SnapshotManifest, TransferProgress } from "@devenv/protocol";
import {
  assertNewSnapshotId,
  buildManifest,
  codecFor,
  defaultSnapshotId,
  parseCqlType,
  planTables,
  readKeyspaceSchema,
  splitRing,
  stageChunks,
  uploadChunk,
  userTypesOf,
  writeManifest,
  type BlobStore,
  type KeyspaceSchema,
  type StagedChunk,
  type TablePlan,
} from "@devenv/snapshot";
import { auditChunks, type AuditFinding } from "../audit/audit-chunks.ts";
import { ShrinkError } from "../errors.ts";
import { planShrink, type ShrinkPlan } from "../plan/shrink-plan.ts";
import type { ShrinkRules } from "../rules/rules-schema.ts";
import { resolveOrgScope, type OrgScope } from "./org-scope.ts";
import { replaceKnownValues } from "./replace-known-values.ts";
import { ShrinkScan, type TableSummary } from "./shrink-scan.ts";

export type { TableSummary } from "./shrink-scan.ts";

export interface ShrinkOptions {
  client: cassandra.Client;
  keyspace: string;
  rules: ShrinkRules;
  /** HMAC key for pseudonyms; never written anywhere. */
  secret: Buffer;
  store: BlobStore;
  snapshotId?: string;
  /** Keep exactly this organisation (the customer-reproduction case) instead of the rules' orgs.keep. */
  org?: string;
  /** Event tables keep `keepDays` before this instant. */
  asOf?: Date;
  scanConcurrency?: number;
  chunkCount?: number;
  targetChunkBytes?: number;
  stagingDir?: string;
  onProgress?: (progress: ShrinkProgress) => void;
  now?: () => Date;
}

/** The steps after the scan: merge what it learnt, free text, audit, upload (phases verify and upload). */
export type ShrinkStep = "merge" | "free-text" | "audit" | "upload";

export type ShrinkProgress = TransferProgress & { table?: string; step?: ShrinkStep };

export interface ShrinkResult {
  manifest: SnapshotManifest;
  tables: TableSummary[];
  keptOrgs: number;
  orgsByKind: Record<string, number>;
  knownValues: number;
  audit: { cellsScanned: number; findings: AuditFinding[] };
  seconds: number;
}

/**
 * Everything decided before the first row is read: the rules checked against
 * the schema, the organisations kept, the instant events are cut at, and each
 * kept table's fixed token ranges. A shrink run in parts shares it with every part.
 */
export interface PreparedShrink {
  snapshotId: string;
  keyspace: string;
  rules: ShrinkRules;
  org: string | undefined;
  createdAt: Date;
  asOf: Date;
  fullSchema: KeyspaceSchema;
  /** The kept tables only. */
  schema: KeyspaceSchema;
  plan: ShrinkPlan;
  scope: OrgScope;
  /** Chunk count per kept table: its ranges are splitRing(count). */
  chunkCounts: Record<string, number>;
}

/**
 * Production keyspace → dev-safe snapshot: rows of organisations that are not
 * kept are dropped, events older than keepDays are dropped, PII is replaced by
 * keyed pseudonyms (free text too, in a second pass over the staged chunks),
 * and the result is audited before anything is published. A leak found by the
 * audit fails the run and nothing reaches the store.
 */
export async function shrinkSnapshot(options: ShrinkOptions): Promise<ShrinkResult> {
  const started = Date.now();
  const prepared = await prepareShrink(options);
  const plans = tablePlansOf(prepared);
  const chunksTotal = plans.reduce((n, p) => n + p.ranges.length, 0);
  const progress = progressReporter(options.onProgress, started);
  const staging = await mkdtemp(join(options.stagingDir ?? tmpdir(), "devenv-shrink-"));
  const scan = new ShrinkScan({ ...prepared, secret: options.secret, spillDir: staging });
  try {
    let rowsRead = 0;
    let chunksDone = 0;
    const staged = await stageChunks({
      client: options.client,
      keyspace: options.keyspace,
      plans,
      stagingDir: staging,
      concurrency: options.scanConcurrency ?? 4,
      mapRow: scan.mapRow,
      screen: scan.screen,
      onRowsRead: (_p, rows) => {
        rowsRead += rows;
        progress({ phase: "scan", rowsDone: rowsRead, chunksDone, chunksTotal });
      },
      onChunk: async () => {
        chunksDone++;
      },
    });
    // dropped tables are not read at all; their rows are simply not counted
    progress({ phase: "scan", rowsDone: rowsRead, chunksDone: chunksTotal, chunksTotal });
    return await finishShrink({ prepared, scan, staged, stagingDir: staging, store: options.store, onProgress: options.onProgress, started });
  } finally {
    scan.close();
    await rm(staging, { recursive: true, force: true });
  }
}

/** Step 1: rules against the schema (deny by default) and the organisations kept, before anything is read or written. */
export async function prepareShrink(options: ShrinkOptions): Promise<PreparedShrink> {
  const createdAt = (options.now ?? (() => new Date()))();
  const snapshotId = options.snapshotId ?? defaultSnapshotId(`${options.keyspace}-dev`, createdAt);
  await assertNewSnapshotId(options.store, snapshotId);
  if (options.secret.length < 16) throw new ShrinkError("secret-missing", "the pseudonym secret must be at least 16 bytes");
  const fullSchema = await readKeyspaceSchema(options.client, options.keyspace);
  const plan = planShrink(options.rules, fullSchema);
  const kept = plan.tables.filter((t) => t.action === "keep").map((t) => t.name);
  const schema = await readKeyspaceSchema(options.client, options.keyspace, kept);
  const scope = await resolveOrgScope(options.client, options.keyspace, options.rules, plan, fullSchema.tables, options.org);
  const plans = await planTables(options.client, schema, userTypesOf(schema.types), options);
  return {
    snapshotId,
    keyspace: options.keyspace,
    rules: options.rules,
    org: options.org,
    createdAt,
    asOf: options.asOf ?? createdAt,
    fullSchema,
    schema,
    plan,
    scope,
    chunkCounts: Object.fromEntries(plans.map((p) => [p.table.name, p.ranges.length])),
  };
}

/** The kept tables with their codecs and fixed token ranges. */
export function tablePlansOf(prepared: PreparedShrink): TablePlan[] {
  const userTypes = userTypesOf(prepared.schema.types);
  return prepared.schema.tables.map((table) => ({
    table,
    codecs: table.columns.map((c) => codecFor(parseCqlType(c.type), userTypes)),
    ranges: splitRing(prepared.chunkCounts[table.name]!),
  }));
}

export interface FinishShrinkInput {
  prepared: PreparedShrink;
  /** The first pass's findings, every part merged. */
  scan: ShrinkScan;
  /** Every staged chunk of the first pass, as local files. */
  staged: readonly StagedChunk[];
  stagingDir: string;
  store: BlobStore;
  onProgress?: (progress: ShrinkProgress) => void;
  started?: number;
}

/**
 * Steps 3 to 5: free text everywhere (every PII value met in the kept data is
 * replaced wherever it is mentioned), the audit of every cell, then the chunks
 * and, last, the manifest are published. A finding publishes nothing.
 */
export async function finishShrink(input: FinishShrinkInput): Promise<ShrinkResult> {
  const { prepared, scan, stagingDir } = input;
  const started = input.started ?? Date.now();
  const progress = progressReporter(input.onProgress, started);
  const plans = tablePlansOf(prepared);
  const chunksTotal = input.staged.length;
  progress({ phase: "verify", step: "merge", chunksDone: 0, chunksTotal });
  scan.seal();
  const final = await replaceKnownValuesEverywhere(scan, input.staged, stagingDir, (chunksDone) =>
    progress({ phase: "verify", step: "free-text", chunksDone, chunksTotal }),
  );
  const audit = await auditChunks(final, plans.map((p) => p.table), {
    sourcePii: scan.sourcePii,
    pseudonymOutputs: scan.pseudonymOutputs,
    onChunk: (chunksDone) => progress({ phase: "verify", step: "audit", chunksDone, chunksTotal }),
  });
  if (audit.findings.length > 0) {
    const shown = audit.findings.slice(0, 20).map((f) => `  ${f.table}.${f.column} key=${f.rowKey}: ${f.kind} ${f.excerpt}`);
    throw new ShrinkError(
      "leak-found",
      `audit found ${audit.findings.length} possible leak(s); the snapshot was not published:\n${shown.join("\n")}`,
      { findings: audit.findings },
    );
  }
  let uploaded = 0;
  for (const chunk of final) {
    progress({ phase: "upload", step: "upload", chunksDone: uploaded++, chunksTotal });
    await uploadChunk(input.store, chunk);
  }
  const description =
    `shrink of keyspace ${prepared.keyspace} as of ${prepared.asOf.toISOString()}` +
    (prepared.org !== undefined ? `, organisation ${prepared.org} only` : `, kept orgs: ${prepared.scope.kept.size}`);
  const manifest = buildManifest({ id: prepared.snapshotId, createdAt: prepared.createdAt, description, schema: prepared.schema, plans, chunks: final });
  await writeManifest(input.store, manifest);
  return {
    manifest,
    tables: [...scan.summaries.values()],
    keptOrgs: prepared.scope.kept.size,
    orgsByKind: prepared.scope.orgsByKind,
    knownValues: scan.known.size,
    audit,
    seconds: (Date.now() - started) / 1000,
  };
}

/** The free-text pass over every chunk: each known value, wherever prose or JSON mentions it, becomes its pseudonym. */
async function replaceKnownValuesEverywhere(
  scan: ShrinkScan,
  staged: readonly StagedChunk[],
  stagingDir: string,
  onChunk: (chunksDone: number) => void,
): Promise<StagedChunk[]> {
  const matcher = scan.known.build();
  const textColumns = new Map(
    [...scan.keptPlans.values()].map((t) => [t.name, t.columns.filter((c) => mentionsText(c.transform)).map((c) => c.index)]),
  );
  const final: StagedChunk[] = [];
  for (const chunk of staged) {
    onChunk(final.length);
    const columns = textColumns.get(chunk.table) ?? [];
    final.push(columns.length > 0 && scan.known.size > 0 ? await replaceKnownValues(chunk, columns, matcher, stagingDir) : chunk);
  }
  return final;
}

export function progressReporter(onProgress: ((progress: ShrinkProgress) => void) | undefined, started: number) {
  return (update: Partial<ShrinkProgress>) =>
    onProgress?.({ operation: "export", phase: "scan", bytesDone: 0, rowsDone: 0, chunksDone: 0, elapsedSeconds: (Date.now() - started) / 1000, ...update });
}

function mentionsText(transform: unknown): boolean {
  if (transform === "text" || transform === "json") return true;
  if (transform !== null && typeof transform === "object") {
    if ("json" in transform) return true;
    if ("udt" in transform) return Object.values((transform as { udt: Record<string, unknown> }).udt).some(mentionsText);
  }
  return false;
}
