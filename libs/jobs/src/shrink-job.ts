import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ShrinkJobPayload } from "@devenv/protocol";
import { loadRules, resolveSecret, shrinkSnapshot, type ShrinkResult } from "@devenv/shrink";
import { connectCassandra, type BlobStore } from "@devenv/snapshot";
import type { Job, JsonValue, Store } from "@devenv/store";
import type { JobContext, JobHandler } from "./job-runner.ts";

export interface ShrinkJobDeps {
  store: Store;
  /** Where snapshots are published (the catalogue's blob store). */
  blobs: BlobStore;
  /** Where the rules' `secret: { env }` is looked up. */
  env?: NodeJS.ProcessEnv;
}

/** Figures a shrink job leaves as its result. */
export interface ShrinkJobResult {
  [key: string]: JsonValue;
  snapshotId: string;
  rows: number;
  bytes: number;
  tables: number;
  keptOrgs: number;
  seconds: number;
}

/**
 * Runs one shrink and catalogues its snapshot: `building` while it runs, `ready`
 * with its figures, or `failed` (an audit finding included) — never published half.
 */
export async function runShrinkJob(deps: ShrinkJobDeps, payload: ShrinkJobPayload, context: JobContext, job: Pick<Job, "id" | "attempts">): Promise<ShrinkJobResult> {
  const rules = await loadRules(payload.rulesFile);
  const secret = await resolveSecret(rules, payload.rulesFile, deps.env ?? process.env);
  const rulesDigest = createHash("sha256").update(await readFile(payload.rulesFile)).digest("hex");
  // each attempt its own id: a failed attempt's snapshot stays failed in the catalogue
  const snapshotId = payload.snapshotId ?? `${payload.source.keyspace}-dev-${job.id.slice(0, 8)}-${job.attempts}`;
  const client = await connectCassandra({ contactPoints: payload.source.contactPoints, localDataCenter: payload.source.localDataCenter });
  const description = `shrink of ${payload.source.keyspace}${payload.org ? `, organisation ${payload.org}` : ""}`;
  const existing = await deps.store.snapshots.find(snapshotId);
  if (existing && existing.status !== "building") throw new Error(`snapshot ${snapshotId} already exists (${existing.status})`);
  // a retry after a crash finds its own building row
  if (!existing) await deps.store.snapshots.create({ id: snapshotId, location: deps.blobs.location, sourceDescription: description, rulesDigest });
  let lastLogged = 0;
  try {
    context.log("info", `shrinking ${payload.source.keyspace} with ${payload.rulesFile} into ${deps.blobs.location} as ${snapshotId}`);
    const result: ShrinkResult = await shrinkSnapshot({
      client,
      keyspace: payload.source.keyspace,
      rules,
      secret,
      store: deps.blobs,
      snapshotId,
      org: payload.org,
      asOf: payload.asOf ? new Date(payload.asOf) : undefined,
      onProgress: (p) => {
        context.signal.throwIfAborted();
        if (Date.now() - lastLogged < 2000) return;
        lastLogged = Date.now();
        context.log("info", `${p.phase}: ${p.chunksDone}/${p.chunksTotal ?? "?"} chunks, ${p.rowsDone} rows`);
      },
    });
    for (const t of result.tables) {
      context.log("info", `${t.table}: read ${t.rowsRead}, kept ${t.rowsKept}, dropped by org ${t.droppedByOrg}, by time ${t.droppedByTime}, scrubbed ${t.cellsTransformed}`);
    }
    const { totals } = result.manifest;
    await deps.store.snapshots.markReady(snapshotId, { sizeBytes: totals.bytes, rows: totals.rows, tablesCount: totals.tables });
    context.log("info", `snapshot ${snapshotId} ready: ${totals.rows} rows, ${totals.bytes} bytes, audit clean`);
    return { snapshotId, rows: totals.rows, bytes: totals.bytes, tables: totals.tables, keptOrgs: result.keptOrgs, seconds: result.seconds };
  } catch (error) {
    await deps.store.snapshots.markFailed(snapshotId).catch(() => {});
    throw error;
  } finally {
    await client.shutdown();
  }
}

export function shrinkJobHandler(deps: ShrinkJobDeps): JobHandler {
  return async (job: Job, context: JobContext) => runShrinkJob(deps, parsePayload(ShrinkJobPayload, job), context, job);
}

/** A payload that does not parse fails the attempt with the field named. */
export function parsePayload<T>(schema: { safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, job: Job): T {
  const parsed = schema.safeParse(job.payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`job ${job.id}: bad ${job.kind} payload at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return parsed.data;
}
