import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ShrinkJobPayload, ShrinkTaskPayload } from "@devenv/protocol";
import { discardShrinkWork, finishShrinkParts, loadRules, planShrinkParts, resolveSecret, runShrinkPart, type ShrinkProgress } from "@devenv/shrink";
import { connectCassandra, type BlobStore } from "@devenv/snapshot";
import type { Job, JsonValue, Snapshot, Store } from "@devenv/store";
import type { JobContext, JobHandler } from "./job-runner.ts";

export interface ShrinkJobDeps {
  store: Store;
  /** Where snapshots are published (the catalogue's blob store); its work area carries the parts' results. */
  blobs: BlobStore;
  /** Where the rules' `secret: { env }` is looked up. */
  env?: NodeJS.ProcessEnv;
  /** How often a shrink looks at its tasks. Default 500 ms. */
  pollMs?: number;
}

/** Figures a shrink job leaves as its result. */
export interface ShrinkJobResult {
  [key: string]: JsonValue;
  snapshotId: string;
  rows: number;
  bytes: number;
  tables: number;
  /** Null when an earlier attempt of the job made the snapshot and this one reused it. */
  keptOrgs: number | null;
  tasks: number;
  seconds: number;
}

export const defaultShrinkTasks = 4;
// a shrink whose tasks nobody takes says so, instead of waiting in silence
const unclaimedWarningMs = 60_000;

/**
 * Runs one shrink and catalogues its snapshot: `building` while it runs, `ready`
 * with its figures, or `failed` (an audit finding included) — never published half.
 * The scan is split into token-range tasks that any runner leases (several hosts
 * when the store is PostgreSQL); this job plans them, waits, then merges, audits
 * and publishes. A retried attempt picks up the tasks of the one before.
 */
export async function runShrinkJob(deps: ShrinkJobDeps, payload: ShrinkJobPayload, context: JobContext, job: Pick<Job, "id" | "attempts">): Promise<ShrinkJobResult> {
  const started = Date.now();
  const rules = await loadRules(payload.rulesFile);
  const secret = await resolveSecret(rules, payload.rulesFile, deps.env ?? process.env);
  const rulesDigest = createHash("sha256").update(await readFile(payload.rulesFile)).digest("hex");
  const description = `shrink of ${payload.source.keyspace}${payload.org ? `, organisation ${payload.org}` : ""}`;

  const earlier = await earlierShrinkOf(deps.store, job.id);
  if (earlier?.snapshot.status === "ready") {
    // e.g. a refresh retried during its roll-out: the snapshot it made is not made again
    const { snapshot, tasks } = earlier;
    context.log("info", `snapshot ${snapshot.id} was made by an earlier attempt of this job; using it`);
    return { snapshotId: snapshot.id, rows: snapshot.rows, bytes: snapshot.sizeBytes, tables: snapshot.tablesCount, keptOrgs: null, tasks, seconds: (Date.now() - started) / 1000 };
  }
  const resumed = earlier?.snapshot.id;
  // each fresh attempt its own id: a failed attempt's snapshot stays failed in the catalogue
  const snapshotId = resumed ?? payload.snapshotId ?? `${payload.source.keyspace}-dev-${job.id.slice(0, 8)}-${job.attempts}`;
  try {
    if (resumed) {
      context.log("info", `resuming ${snapshotId}: its tasks carry on from the previous attempt`);
    } else {
      const existing = await deps.store.snapshots.find(snapshotId);
      if (existing && existing.status !== "building") throw new Error(`snapshot ${snapshotId} already exists (${existing.status})`);
      // a retry after a crash before its tasks existed finds its own building row
      if (!existing) await deps.store.snapshots.create({ id: snapshotId, location: deps.blobs.location, sourceDescription: description, rulesDigest });
      context.log("info", `shrinking ${payload.source.keyspace} with ${payload.rulesFile} into ${deps.blobs.location} as ${snapshotId}`);
      const client = await connectCassandra({ contactPoints: payload.source.contactPoints, localDataCenter: payload.source.localDataCenter });
      let parts: number;
      try {
        const planned = await planShrinkParts({
          client,
          keyspace: payload.source.keyspace,
          rules,
          secret,
          store: deps.blobs,
          snapshotId,
          org: payload.org,
          asOf: payload.asOf ? new Date(payload.asOf) : undefined,
          parts: payload.tasks ?? defaultShrinkTasks,
        });
        parts = planned.parts;
        context.log("info", `planned ${planned.chunks} chunks in ${parts} task(s)`);
      } finally {
        await client.shutdown();
      }
      await deps.store.jobs.enqueueMany(
        Array.from({ length: parts }, (_, part) => ({
          kind: "shrink-task" as const,
          parentId: job.id,
          payload: { snapshotId, part, source: payload.source, rulesFile: payload.rulesFile } satisfies ShrinkTaskPayload,
        })),
      );
      context.poke();
    }
    const tasks = await waitForTasks(deps, job.id, snapshotId, context);

    let lastLogged = 0;
    const result = await finishShrinkParts({
      store: deps.blobs,
      secret,
      snapshotId,
      onProgress: (p: ShrinkProgress) => {
        context.signal.throwIfAborted();
        if (Date.now() - lastLogged < 2000) return;
        lastLogged = Date.now();
        context.log("info", `${p.step ?? p.phase}: ${p.chunksDone}/${p.chunksTotal ?? "?"} chunks`);
      },
    });
    for (const t of result.tables) {
      context.log("info", `${t.table}: read ${t.rowsRead}, kept ${t.rowsKept}, dropped by org ${t.droppedByOrg}, by time ${t.droppedByTime}, scrubbed ${t.cellsTransformed}`);
    }
    const { totals } = result.manifest;
    await deps.store.snapshots.markReady(snapshotId, { sizeBytes: totals.bytes, rows: totals.rows, tablesCount: totals.tables });
    context.log("info", `snapshot ${snapshotId} ready: ${totals.rows} rows, ${totals.bytes} bytes, ${tasks} task(s), audit clean`);
    return { snapshotId, rows: totals.rows, bytes: totals.bytes, tables: totals.tables, keptOrgs: result.keptOrgs, tasks, seconds: (Date.now() - started) / 1000 };
  } catch (error) {
    // a runner that stops (or loses its lease) leaves everything for the next attempt to resume
    if (context.signal.aborted && (await deps.store.jobs.get(job.id)).state !== "cancelled") throw error;
    await abandonShrink(deps, job.id, snapshotId);
    throw error;
  }
}

/** The snapshot an earlier attempt of this job made, or was making, with tasks: ready or building. */
async function earlierShrinkOf(store: Store, jobId: string): Promise<{ snapshot: Snapshot; tasks: number } | undefined> {
  const tasks = await store.jobs.list({ parentId: jobId, kinds: ["shrink-task"], limit: 1000 });
  const ids = new Set(tasks.flatMap((t) => ShrinkTaskPayload.safeParse(t.payload).data?.snapshotId ?? []));
  for (const id of ids) {
    const snapshot = await store.snapshots.find(id);
    if (snapshot?.status === "ready" || snapshot?.status === "building") {
      return { snapshot, tasks: tasks.filter((t) => ShrinkTaskPayload.safeParse(t.payload).data?.snapshotId === id).length };
    }
  }
  return undefined;
}

async function tasksOf(store: Store, jobId: string, snapshotId: string): Promise<Job[]> {
  const tasks = await store.jobs.list({ parentId: jobId, kinds: ["shrink-task"], limit: 1000 });
  return tasks.filter((t) => ShrinkTaskPayload.safeParse(t.payload).data?.snapshotId === snapshotId);
}

/** Waits until every task of the snapshot succeeded; one that failed for good fails the shrink. */
async function waitForTasks(deps: ShrinkJobDeps, jobId: string, snapshotId: string, context: JobContext): Promise<number> {
  const waitingSince = Date.now();
  let lastLogged = "";
  let warned = false;
  for (;;) {
    context.signal.throwIfAborted();
    const tasks = await tasksOf(deps.store, jobId, snapshotId);
    const count = (state: Job["state"]) => tasks.filter((t) => t.state === state).length;
    const failed = tasks.find((t) => t.state === "failed" || t.state === "cancelled");
    if (failed) {
      const part = ShrinkTaskPayload.safeParse(failed.payload).data?.part;
      throw new Error(`task ${part ?? failed.id} ${failed.state}${failed.error ? `: ${failed.error}` : ""}`);
    }
    if (tasks.length > 0 && count("succeeded") === tasks.length) return tasks.length;
    const line = `tasks: ${count("succeeded")}/${tasks.length} done, ${count("running")} running`;
    if (line !== lastLogged) context.log("info", line);
    lastLogged = line;
    if (!warned && Date.now() - waitingSince > unclaimedWarningMs && tasks.every((t) => t.attempts === 0)) {
      warned = true;
      context.log("warn", "no runner has taken a task of this shrink for a minute: is a job runner with the shrink-task handler running?");
    }
    await sleep(deps.pollMs ?? 500, undefined, { signal: context.signal });
  }
}

/** A shrink that will not finish: its tasks stop, its snapshot is failed, its work area removed. */
async function abandonShrink(deps: ShrinkJobDeps, jobId: string, snapshotId: string): Promise<void> {
  for (const task of await tasksOf(deps.store, jobId, snapshotId).catch(() => [])) {
    if (task.state === "queued" || task.state === "running") await deps.store.jobs.cancel(task.id).catch(() => {});
  }
  await deps.store.snapshots.markFailed(snapshotId).catch(() => {});
  await discardShrinkWork(deps.blobs, snapshotId).catch(() => {});
}

/** One part of a shrink: scans its token ranges through the rules into the work area. */
export async function runShrinkTask(deps: ShrinkJobDeps, payload: ShrinkTaskPayload, context: JobContext): Promise<JsonValue> {
  const rules = await loadRules(payload.rulesFile);
  const secret = await resolveSecret(rules, payload.rulesFile, deps.env ?? process.env);
  const client = await connectCassandra({ contactPoints: payload.source.contactPoints, localDataCenter: payload.source.localDataCenter });
  let lastLogged = 0;
  try {
    const result = await runShrinkPart({
      client,
      store: deps.blobs,
      secret,
      snapshotId: payload.snapshotId,
      part: payload.part,
      onProgress: (p) => {
        context.signal.throwIfAborted();
        if (Date.now() - lastLogged < 2000) return;
        lastLogged = Date.now();
        context.log("info", `part ${payload.part}: ${p.chunksDone}/${p.chunksTotal ?? "?"} chunks, ${p.rowsDone} rows read`);
      },
    });
    context.log("info", `part ${payload.part} of ${payload.snapshotId}: ${result.chunks} chunks, read ${result.rowsRead} rows, kept ${result.rowsKept}`);
    return { ...result };
  } finally {
    await client.shutdown();
  }
}

/** The handlers a runner needs to run shrink jobs: the job itself and its tasks. */
export function shrinkJobHandlers(deps: ShrinkJobDeps): { shrink: JobHandler; "shrink-task": JobHandler } {
  return {
    shrink: async (job, context) => runShrinkJob(deps, parsePayload(ShrinkJobPayload, job), context, job),
    "shrink-task": async (job, context) => runShrinkTask(deps, parsePayload(ShrinkTaskPayload, job), context),
  };
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
