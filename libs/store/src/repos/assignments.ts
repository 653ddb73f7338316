import { randomUUID } from "node:crypto";
import type { Selectable, Updateable } from "kysely";
import type { AssignmentsTable } from "../database.ts";
import { StoreError } from "../errors.ts";
import type { Assignment, AssignmentState } from "../model.ts";
import type { AssignmentsRepo } from "../store.ts";
import { inTransaction, notFound, nowIso, pageLimit, requireOneOf, requireText, type RepoContext } from "../support/context.ts";
import { fromJsonObjectOrNull, toJson } from "../support/json.ts";
import { lockSnapshot } from "./snapshots.ts";

const unfinishedStates = ["pending", "sent", "running"] as const satisfies readonly AssignmentState[];

function toAssignment(row: Selectable<AssignmentsTable>): Assignment {
  return {
    id: row.id,
    instanceId: row.instance_id,
    snapshotId: row.snapshot_id,
    state: row.state as AssignmentState,
    progress: fromJsonObjectOrNull(row.progress),
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function assignmentsRepo(ctx: RepoContext): AssignmentsRepo {
  const { db } = ctx;
  const get = async (tx: RepoContext, id: string) => {
    const row = await tx.db.selectFrom("assignments").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw notFound("assignment", id);
    return toAssignment(row);
  };
  /** Updates an unfinished assignment; a finished one cannot change any more. */
  const updateUnfinished = async (tx: RepoContext, id: string, values: Updateable<AssignmentsTable>) => {
    const row = await tx.db
      .updateTable("assignments")
      .set({ ...values, updated_at: nowIso(tx) })
      .where("id", "=", id)
      .where("state", "in", unfinishedStates)
      .returningAll()
      .executeTakeFirst();
    if (row) return toAssignment(row);
    const current = await get(tx, id);
    throw new StoreError("invalid-transition", `assignment ${id} already ${current.state}; it cannot change any more`);
  };

  return {
    create(input) {
      return inTransaction(ctx, async (tx) => {
        const snapshot = await lockSnapshot(tx, input.snapshotId);
        if (snapshot.status !== "ready") {
          throw new StoreError("conflict", `snapshot ${snapshot.id} is ${snapshot.status}; only a ready snapshot can be assigned`);
        }
        const instance = await tx.db
          .selectFrom("instances")
          .select(["id", "state"])
          .where("id", "=", input.instanceId)
          .executeTakeFirst();
        if (!instance) throw notFound("instance", input.instanceId);
        if (instance.state === "terminated" || instance.state === "draining") {
          throw new StoreError("invalid-transition", `instance ${instance.id} is ${instance.state}; it cannot take a snapshot`);
        }
        const now = nowIso(tx);
        // the newest assignment supersedes any the agent has not finished
        await tx.db
          .updateTable("assignments")
          .set({ state: "cancelled", error: "superseded by a newer assignment", updated_at: now })
          .where("instance_id", "=", instance.id)
          .where("state", "in", unfinishedStates)
          .execute();
        const row = await tx.db
          .insertInto("assignments")
          .values({
          id: randomUUID(),
          instance_id: instance.id,
          snapshot_id: snapshot.id,
          state: "pending",
          progress: null,
          error: null,
          created_at: now,
          updated_at: now,
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        await tx.db
          .updateTable("instances")
          .set({ snapshot_id: snapshot.id, updated_at: now })
          .where("id", "=", instance.id)
          .execute();
        return toAssignment(row);
      });
    },
    get: (id) => get(ctx, id),
    async listForInstance(instanceId, page) {
      const rows = await db
        .selectFrom("assignments")
        .selectAll()
        .where("instance_id", "=", instanceId)
        .orderBy("seq", "desc")
        .limit(pageLimit(page))
        .execute();
      return rows.map(toAssignment);
    },
    async latestForInstance(instanceId) {
      const row = await db
        .selectFrom("assignments")
        .selectAll()
        .where("instance_id", "=", instanceId)
        .orderBy("seq", "desc")
        .executeTakeFirst();
      return row && toAssignment(row);
    },
    update(id, patch) {
      const values: Updateable<AssignmentsTable> = {};
      // outcomes go through succeed/fail, which also update the instance
      if (patch.state !== undefined) values.state = requireOneOf(patch.state, unfinishedStates, "state");
      if (patch.progress !== undefined) values.progress = toJson(patch.progress);
      if (patch.error !== undefined) values.error = patch.error;
      return updateUnfinished(ctx, id, values);
    },
    succeed(id) {
      return inTransaction(ctx, async (tx) => {
        const assignment = await updateUnfinished(tx, id, { state: "succeeded", error: null });
        await tx.db
          .updateTable("instances")
          .set({ current_snapshot_id: assignment.snapshotId, updated_at: nowIso(tx) })
          .where("id", "=", assignment.instanceId)
          .execute();
        return assignment;
      });
    },
    fail(id, error) {
      return inTransaction(ctx, async (tx) => {
        const assignment = await updateUnfinished(tx, id, { state: "failed", error: requireText(error, "error") });
        // the instance keeps what it holds: its target goes back to its current snapshot
        await tx.db
          .updateTable("instances")
          .set((eb) => ({ snapshot_id: eb.ref("current_snapshot_id"), updated_at: nowIso(tx) }))
          .where("id", "=", assignment.instanceId)
          .where("snapshot_id", "=", assignment.snapshotId)
          .execute();
        return assignment;
      });
    },
  };
}
