import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import type { SnapshotManifest, TransferProgress } from "@devenv/protocol";
import {
  assertNewSnapshotId,
  buildManifest,
  defaultSnapshotId,
  encodeAll,
  planTables,
  readKeyspaceSchema,
  stageChunks,
  uploadChunk,
  userTypesOf,
  writeManifest,
  type BlobStore,
  type JsonValue,
  type RowMapper,
  type StagedChunk,
} from "@devenv/snapshot";
import cassandraDriver from "cassandra-driver";
import { BloomFilter } from "../audit/bloom-filter.ts";
import { auditChunks, type AuditFinding } from "../audit/audit-chunks.ts";
import { ShrinkError } from "../errors.ts";
import { planShrink, type KeptTablePlan } from "../plan/shrink-plan.ts";
import type { ShrinkRules } from "../rules/rules-schema.ts";
import { KnownValues } from "../scrub/known-values.ts";
import { normalizeForAudit } from "../audit/normalize-for-audit.ts";
import { Pseudonyms, withoutKeySuffix } from "../scrub/pseudonyms.ts";
import { compileTransform, type CellTransform, type PiiKind } from "../transform/cell-transform.ts";
import { resolveOrgScope } from "./org-scope.ts";
import { replaceKnownValues } from "./replace-known-values.ts";

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
  /** Expected number of source PII values, to size the audit's filter. */
  expectedPiiValues?: number;
  stagingDir?: string;
  onProgress?: (progress: TransferProgress & { table?: string }) => void;
  now?: () => Date;
}

export interface TableSummary {
  table: string;
  action: "keep" | "drop";
  rowsRead: number;
  rowsKept: number;
  droppedByOrg: number;
  droppedByTime: number;
  cellsTransformed: number;
}

export interface ShrinkResult {
  manifest: SnapshotManifest;
  tables: TableSummary[];
  keptOrgs: number;
  orgsByKind: Record<string, number>;
  knownValues: number;
  audit: { cellsScanned: number; findings: AuditFinding[] };
  seconds: number;
}

const dayMs = 86_400_000;

/**
 * Production keyspace → dev-safe snapshot: rows of organisations that are not
 * kept are dropped, events older than keepDays are dropped, PII is replaced by
 * keyed pseudonyms (free text too, in a second pass over the staged chunks),
 * and the result is audited before anything is published. A leak found by the
 * audit fails the run and nothing reaches the store.
 */
export async function shrinkSnapshot(options: ShrinkOptions): Promise<ShrinkResult> {
  const started = Date.now();
  const now = options.now ?? (() => new Date());
  const createdAt = now();
  const asOf = options.asOf ?? createdAt;
  const snapshotId = options.snapshotId ?? defaultSnapshotId(`${options.keyspace}-dev`, createdAt);
  await assertNewSnapshotId(options.store, snapshotId);
  if (options.secret.length < 16) throw new ShrinkError("secret-missing", "the pseudonym secret must be at least 16 bytes");

  // 1. rules against the schema: deny by default, before anything is read or written
  const fullSchema = await readKeyspaceSchema(options.client, options.keyspace);
  const plan = planShrink(options.rules, fullSchema);
  const keptPlans = new Map(plan.tables.filter((t): t is KeptTablePlan => t.action === "keep").map((t) => [t.name, t]));
  const schema = await readKeyspaceSchema(options.client, options.keyspace, [...keptPlans.keys()]);
  const scope = await resolveOrgScope(options.client, options.keyspace, options.rules, plan, fullSchema.tables, options.org);

  const pseudonyms = new Pseudonyms(options.secret);
  const known = new KnownValues();
  const sourcePii = new BloomFilter(options.expectedPiiValues ?? 1_000_000, 1e-9);
  const pseudonymOutputs = new Set<string>();
  const addSourcePii = (kind: PiiKind, value: string) => {
    const key = normalizeForAudit(kind, value);
    if (key !== undefined) sourcePii.add(key);
  };
  const summaries = new Map<string, TableSummary>(
    plan.tables.map((t) => [t.name, { table: t.name, action: t.action, rowsRead: 0, rowsKept: 0, droppedByOrg: 0, droppedByTime: 0, cellsTransformed: 0 }]),
  );
  const keyOwners = new Map<string, string>();

  const compiled = new Map<string, { plan: KeptTablePlan; transforms: (CellTransform | undefined)[]; piiColumns: { index: number; kind: PiiKind }[] }>();
  for (const table of keptPlans.values()) {
    const summary = summaries.get(table.name)!;
    const transforms = table.columns.map((column) => {
      if (column.transform === "keep") return undefined;
      const fn = compileTransform(column.transform, column.type, schema.types, {
        pseudonyms,
        onPii: (kind, original, pseudonym) => {
          known.add(kind, original, pseudonym);
          addSourcePii(kind, original);
          pseudonymOutputs.add(pseudonym.toLowerCase());
          // key-mode names carry a suffix; the audit reads word runs, so the bare fake is ours too
          pseudonymOutputs.add(withoutKeySuffix(pseudonym).toLowerCase());
        },
        onTransformed: () => summary.cellsTransformed++,
      }, column.isKey);
      if (!column.isKey) return fn;
      // a pseudonym shared by two distinct key values would silently merge rows: fail instead
      return (value: JsonValue) => {
        const out = fn(value);
        const owner = `${table.name}.${column.name}\u0000${JSON.stringify(out)}`;
        const original = JSON.stringify(value);
        const previous = keyOwners.get(owner);
        if (previous !== undefined && previous !== original) {
          throw new ShrinkError("failed", `pseudonym collision in key column ${table.name}.${column.name}: two distinct values map to ${JSON.stringify(out)}`);
        }
        keyOwners.set(owner, original);
        return out;
      };
    });
    const piiColumns = table.columns.flatMap((c) =>
      typeof c.transform === "string" && ["email", "phone", "person", "company", "address"].includes(c.transform)
        ? [{ index: c.index, kind: c.transform as PiiKind }]
        : [],
    );
    compiled.set(table.name, { plan: table, transforms, piiColumns });
  }

  const mapRow: RowMapper = (snapshotPlan, cells) => {
    const entry = compiled.get(snapshotPlan.table.name)!;
    const summary = summaries.get(snapshotPlan.table.name)!;
    summary.rowsRead++;
    const { plan: table } = entry;
    const orgKept =
      table.org.kind === "none" ||
      (table.org.kind === "column" && scope.kept.has(String(cells[table.org.index]))) ||
      (table.org.kind === "via" && scope.viaKept.get(`${table.org.table}.${table.org.key}`)!.has(String(cells[table.org.index])));
    if (!orgKept) {
      summary.droppedByOrg++;
      // dropped customers' PII still feeds the audit: none of it may appear in the output
      for (const { index, kind } of entry.piiColumns) {
        const value = cells[index];
        if (typeof value === "string") addSourcePii(kind, value);
      }
      return undefined;
    }
    if (table.time && timeOf(cells[table.time.index]) < asOf.getTime() - table.time.keepDays * dayMs) {
      summary.droppedByTime++;
      return undefined;
    }
    const values = encodeAll(snapshotPlan, cells)!;
    for (let i = 0; i < values.length; i++) {
      const fn = entry.transforms[i];
      if (fn) values[i] = fn(values[i]!);
    }
    summary.rowsKept++;
    return values;
  };

  const progress = (update: Partial<TransferProgress>) =>
    options.onProgress?.({ operation: "export", phase: "scan", bytesDone: 0, rowsDone: 0, chunksDone: 0, elapsedSeconds: (Date.now() - started) / 1000, ...update });
  const staging = await mkdtemp(join(options.stagingDir ?? tmpdir(), "devenv-shrink-"));
  try {
    const userTypes = userTypesOf(schema.types);
    const plans = await planTables(options.client, schema, userTypes, options);
    const chunksTotal = plans.reduce((n, p) => n + p.ranges.length, 0);
    let rowsRead = 0;
    let chunksDone = 0;
    // 2. scan, filter and transform into staged chunks
    const staged = await stageChunks({
      client: options.client,
      keyspace: options.keyspace,
      plans,
      stagingDir: staging,
      concurrency: options.scanConcurrency ?? 4,
      mapRow,
      onRowsRead: (_p, rows) => {
        rowsRead += rows;
        progress({ phase: "scan", rowsDone: rowsRead, chunksDone, chunksTotal });
      },
      onChunk: async () => {
        chunksDone++;
      },
    });
    // dropped tables are not read at all; their rows are simply not counted
    // 3. free text everywhere: every PII value met in the kept data is replaced wherever it is mentioned
    progress({ phase: "scan", rowsDone: rowsRead, chunksDone: chunksTotal, chunksTotal });
    const matcher = known.build();
    const textColumns = new Map(
      [...compiled.values()].map(({ plan: t }) => [t.name, t.columns.filter((c) => mentionsText(c.transform)).map((c) => c.index)]),
    );
    const final: StagedChunk[] = [];
    for (const chunk of staged) {
      const columns = textColumns.get(chunk.table) ?? [];
      final.push(columns.length > 0 && known.size > 0 ? await replaceKnownValues(chunk, columns, matcher, staging) : chunk);
    }
    // 4. audit every cell before anything is published
    progress({ phase: "verify", rowsDone: 0, chunksDone: 0, chunksTotal: final.length });
    const audit = await auditChunks(final, plans.map((p) => p.table), { sourcePii, pseudonymOutputs });
    if (audit.findings.length > 0) {
      const shown = audit.findings.slice(0, 20).map((f) => `  ${f.table}.${f.column} key=${f.rowKey}: ${f.kind} ${f.excerpt}`);
      throw new ShrinkError(
        "leak-found",
        `audit found ${audit.findings.length} possible leak(s); the snapshot was not published:\n${shown.join("\n")}`,
        { findings: audit.findings },
      );
    }
    // 5. publish: chunks first, the manifest last
    progress({ phase: "upload", chunksDone: 0, chunksTotal: final.length });
    for (const chunk of final) await uploadChunk(options.store, chunk);
    const description =
      `shrink of keyspace ${options.keyspace} as of ${asOf.toISOString()}` +
      (options.org !== undefined ? `, organisation ${options.org} only` : `, kept orgs: ${scope.kept.size}`);
    const manifest = buildManifest({ id: snapshotId, createdAt, description, schema, plans, chunks: final });
    await writeManifest(options.store, manifest);
    return {
      manifest,
      tables: [...summaries.values()],
      keptOrgs: scope.kept.size,
      orgsByKind: scope.orgsByKind,
      knownValues: known.size,
      audit,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function mentionsText(transform: unknown): boolean {
  if (transform === "text" || transform === "json") return true;
  if (transform !== null && typeof transform === "object") {
    if ("json" in transform) return true;
    if ("udt" in transform) return Object.values((transform as { udt: Record<string, unknown> }).udt).some(mentionsText);
  }
  return false;
}

/** Milliseconds since the epoch of a timestamp, date or timeuuid cell; absent times are kept. */
function timeOf(cell: unknown): number {
  if (cell instanceof Date) return cell.getTime();
  if (cell instanceof cassandraDriver.types.TimeUuid) return cell.getDate().getTime();
  if (cell instanceof cassandraDriver.types.LocalDate) return Date.parse(`${cell.toString()}T00:00:00Z`);
  return Number.POSITIVE_INFINITY;
}
