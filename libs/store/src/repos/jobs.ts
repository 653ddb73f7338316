import { randomUUID } from "node:crypto";
import type { Insertable, Selectable } from "kysely";
import type { JobsTable } from "../database.ts";
import { StoreError } from "../errors.ts";
import { jobKinds, jobStates, type Job, type JobKind, type JobState, type JsonValue } from "../model.ts";
import type { EnqueueJobInput, JobsRepo, LeaseRequest } from "../store.ts";
import { inTransaction, notFound, nowIso, pageLimit, requireOneOf, requireText, type RepoContext } from "../support/context.ts";
import { fromJson, fromJsonOrNull, toJson } from "../support/json.ts";
import { addMs, toIso } from "../support/time.ts";

export const defaultMaxAttempts = 3;
const unfinished = ["queued", "running"] as const satisfies readonly JobState[];

function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    kind: row.kind as JobKind,
    payload: fromJson(row.payload),
    state: row.state as JobState,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    leaseOwner: row.lease_owner,
    leaseExpiresAt: row.lease_expires_at,
    parentId: row.parent_id,
    runAfter: row.run_after,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    result: fromJsonOrNull(row.result),
    error: row.error,
  };
}

function requireDuration(ms: number, field: string): number {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new StoreError("invalid-input", `${field} must be a whole number of milliseconds >= 0, got ${ms}`);
  }
  return ms;
}

function newJobRow(ctx: RepoContext, input: EnqueueJobInput): Insertable<JobsTable> {
  const now = nowIso(ctx);
  const maxAttempts = input.maxAttempts ?? defaultMaxAttempts;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) {
    throw new StoreError("invalid-input", `maxAttempts must be a whole number >= 1, got ${maxAttempts}`);
  }
  return {
    id: randomUUID(),
    kind: requireOneOf(input.kind, jobKinds, "kind"),
    payload: toJson(input.payload),
    state: "queued",
    attempts: 0,
    max_attempts: maxAttempts,
    lease_owner: null,
    lease_expires_at: null,
    parent_id: input.parentId ?? null,
    run_after: input.runAfter === undefined ? now : toIso(input.runAfter, "runAfter"),
    created_at: now,
    started_at: null,
    finished_at: null,
    result: null,
    error: null,
  };
}

export function jobsRepo(ctx: RepoContext): JobsRepo {
  const { db } = ctx;
  const find = async (id: string) => {
    const row = await db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toJob(row);
  };
  const get = async (id: string) => {
    const job = await find(id);
    if (!job) throw notFound("job", id);
    return job;
  };
  /** Why an owner's update of a running job matched nothing. */
  const notYours = async (id: string, owner: string, doing: string) => {
    const job = await get(id);
    const why =
      job.state !== "running"
        ? `it is ${job.state}`
        : `its lease belongs to ${job.leaseOwner ?? "nobody"} now (ours expired and it was leased again)`;
    return new StoreError("conflict", `cannot ${doing} job ${id} as ${owner}: ${why}; stop working on it`);
  };

  return {
    async enqueue(input) {
      const row = newJobRow(ctx, input);
      const inserted = await db.insertInto("jobs").values(row).returningAll().executeTakeFirstOrThrow();
      return toJob(inserted);
    },
    enqueueMany(inputs) {
      return inTransaction(ctx, async (tx) => {
        const jobs: Job[] = [];
        for (const input of inputs) {
          const inserted = await tx.db.insertInto("jobs").values(newJobRow(tx, input)).returningAll().executeTakeFirstOrThrow();
          jobs.push(toJob(inserted));
        }
        return jobs;
      });
    },
    async lease(request: LeaseRequest) {
      const owner = requireText(request.owner, "owner");
      const leaseMs = requireDuration(request.leaseMs, "leaseMs");
      if (request.kinds.length === 0) return null;
      const kinds = request.kinds.map((kind) => requireOneOf(kind, jobKinds, "kinds"));
      const now = ctx.clock.date();
      const nowText = now.toISOString();
      // a runner died holding the last attempt: nobody will retry it, so it failed
      await db
        .updateTable("jobs")
        .set({ state: "failed", finished_at: nowText, lease_owner: null, lease_expires_at: null })
        .set((eb) => ({ error: eb.fn.coalesce("error", eb.val("lease expired on the last attempt (its runner stopped)")) }))
        .where("state", "=", "running")
        .where("kind", "in", kinds)
        .where("lease_expires_at", "<=", nowText)
        .where((eb) => eb("attempts", ">=", eb.ref("max_attempts")))
        .execute();
      // one statement: pick the oldest leasable job and take it. On PostgreSQL the row
      // lock with SKIP LOCKED keeps concurrent leasers off the same job; SQLite runs one
      // writer at a time.
      const row = await db
        .updateTable("jobs")
        .set((eb) => ({
          state: "running",
          attempts: eb("attempts", "+", 1),
          lease_owner: owner,
          lease_expires_at: addMs(now, leaseMs),
          started_at: nowText,
          finished_at: null,
        }))
        .where("seq", "=", (eb) =>
          eb
            .selectFrom("jobs")
            .select("seq")
            .where("kind", "in", kinds)
            .where((w) =>
              w.or([
                w.and([w("state", "=", "queued"), w("run_after", "<=", nowText)]),
                w.and([
                  w("state", "=", "running"),
                  w("lease_expires_at", "<=", nowText),
                  w("attempts", "<", w.ref("max_attempts")),
                ]),
              ]),
            )
            .orderBy("seq")
            .limit(1)
            .$if(ctx.dialect === "postgres", (q) => q.forUpdate().skipLocked()),
        )
        .returningAll()
        .executeTakeFirst();
      return row ? toJob(row) : null;
    },
    async renewLease(id, owner, leaseMs) {
      const row = await db
        .updateTable("jobs")
        .set({ lease_expires_at: addMs(ctx.clock.date(), requireDuration(leaseMs, "leaseMs")) })
        .where("id", "=", id)
        .where("state", "=", "running")
        .where("lease_owner", "=", owner)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw await notYours(id, owner, "renew the lease of");
      return toJob(row);
    },
    async complete(id, owner, result?: JsonValue) {
      const row = await db
        .updateTable("jobs")
        .set({
          state: "succeeded",
          finished_at: nowIso(ctx),
          lease_owner: null,
          lease_expires_at: null,
          result: result === undefined ? null : toJson(result),
        })
        .where("id", "=", id)
        .where("state", "=", "running")
        .where("lease_owner", "=", owner)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw await notYours(id, owner, "complete");
      return toJob(row);
    },
    async fail(id, owner, error, options) {
      const now = ctx.clock.date();
      const retryAt = addMs(now, requireDuration(options?.retryAfterMs ?? 0, "retryAfterMs"));
      const row = await db
        .updateTable("jobs")
        .set((eb) => {
          const exhausted = eb("attempts", ">=", eb.ref("max_attempts"));
          return {
            state: eb.case().when(exhausted).then("failed").else("queued").end(),
            finished_at: eb.case().when(exhausted).then(now.toISOString()).else(null).end(),
            run_after: eb.case().when(exhausted).then(eb.ref("run_after")).else(retryAt).end(),
            lease_owner: null,
            lease_expires_at: null,
            error: requireText(error, "error"),
          };
        })
        .where("id", "=", id)
        .where("state", "=", "running")
        .where("lease_owner", "=", owner)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw await notYours(id, owner, "fail");
      return toJob(row);
    },
    cancel(id) {
      return inTransaction(ctx, async (tx) => {
        const now = nowIso(tx);
        const cancelled = { state: "cancelled", finished_at: now, lease_owner: null, lease_expires_at: null };
        const row = await tx.db
          .updateTable("jobs")
          .set(cancelled)
          .where("id", "=", id)
          .where("state", "in", unfinished)
          .returningAll()
          .executeTakeFirst();
        if (!row) {
          const current = await tx.db.selectFrom("jobs").select("state").where("id", "=", id).executeTakeFirst();
          if (!current) throw notFound("job", id);
          const job = { state: current.state };
          throw new StoreError("invalid-transition", `job ${id} already ${job.state}; only a queued or running job can be cancelled`);
        }
        // a cancelled shrink's tasks are not worth running either
        await tx.db.updateTable("jobs").set(cancelled).where("parent_id", "=", id).where("state", "in", unfinished).execute();
        return toJob(row);
      });
    },
    get,
    find,
    async list(filter = {}) {
      const { states, kinds } = filter;
      if (states?.length === 0 || kinds?.length === 0) return [];
      for (const state of states ?? []) requireOneOf(state, jobStates, "states");
      for (const kind of kinds ?? []) requireOneOf(kind, jobKinds, "kinds");
      const rows = await db
        .selectFrom("jobs")
        .selectAll()
        .$if(states !== undefined, (q) => q.where("state", "in", states ?? []))
        .$if(kinds !== undefined, (q) => q.where("kind", "in", kinds ?? []))
        .$if(filter.parentId !== undefined, (q) => q.where("parent_id", "=", filter.parentId ?? ""))
        .orderBy("seq", "desc")
        .limit(pageLimit(filter))
        .execute();
      return rows.map(toJob);
    },
    async childCounts(parentId) {
      const rows = await db
        .selectFrom("jobs")
        .select((eb) => ["state", eb.fn.countAll<number>().as("count")])
        .where("parent_id", "=", parentId)
        .groupBy("state")
        .execute();
      const counts = Object.fromEntries(jobStates.map((state) => [state, 0])) as Record<JobState, number>;
      for (const row of rows) counts[row.state as JobState] = Number(row.count);
      return counts;
    },
    async countByKindAndState(states) {
      if (states.length === 0) return [];
      for (const state of states) requireOneOf(state, jobStates, "states");
      const rows = await db
        .selectFrom("jobs")
        .select((eb) => ["kind", "state", eb.fn.countAll<number>().as("count")])
        .where("state", "in", states)
        .groupBy(["kind", "state"])
        .execute();
      return rows.map((row) => ({ kind: row.kind as JobKind, state: row.state as JobState, count: Number(row.count) }));
    },
  };
}
