import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { SnapshotsTable } from "../database.ts";
import { StoreError } from "../errors.ts";
import type { Snapshot, SnapshotStatus } from "../model.ts";
import type { CreateSnapshotInput, SnapshotsRepo } from "../store.ts";
import { inTransaction, notFound, nowIso, pageLimit, requireText, type RepoContext } from "../support/context.ts";
import { toInstance } from "./instances.ts";

function toSnapshot(row: Selectable<SnapshotsTable>): Snapshot {
  return {
    id: row.id,
    location: row.location,
    createdAt: row.created_at,
    sizeBytes: Number(row.size_bytes),
    rows: Number(row.rows),
    tablesCount: Number(row.tables_count),
    sourceDescription: row.source_description,
    rulesDigest: row.rules_digest,
    pinned: row.pinned === 1,
    status: row.status as SnapshotStatus,
  };
}

function requireCount(value: number | undefined, field: string): number {
  const count = value ?? 0;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new StoreError("invalid-input", `${field} must be a whole number >= 0, got ${value}`);
  }
  return count;
}

/**
 * Reads a snapshot row and, on PostgreSQL, locks it until the transaction ends: deleting
 * a snapshot and assigning it to an instance both take this lock, so neither can slip
 * past the other's check.
 */
export async function lockSnapshot(tx: RepoContext, id: string): Promise<Snapshot> {
  const row = await tx.db
    .selectFrom("snapshots")
    .selectAll()
    .where("id", "=", id)
    .$if(tx.dialect === "postgres", (query) => query.forUpdate())
    .executeTakeFirst();
  if (!row) throw notFound("snapshot", id);
  return toSnapshot(row);
}

export function snapshotsRepo(ctx: RepoContext): SnapshotsRepo {
  const { db } = ctx;
  const find = async (id: string) => {
    const row = await db.selectFrom("snapshots").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toSnapshot(row);
  };
  const instancesUsing = async (tx: RepoContext, id: string) => {
    const rows = await tx.db
      .selectFrom("instances")
      .selectAll()
      .where("state", "!=", "terminated")
      .where((eb) => eb.or([eb("snapshot_id", "=", id), eb("current_snapshot_id", "=", id)]))
      .orderBy("created_at")
      .execute();
    return rows.map(toInstance);
  };
  /** Moves building -> `to`; any other current status is an invalid transition. */
  const finishBuild = async (id: string, to: "ready" | "failed", values: Partial<SnapshotsTable>) => {
    const row = await db
      .updateTable("snapshots")
      .set({ ...values, status: to })
      .where("id", "=", id)
      .where("status", "=", "building")
      .returningAll()
      .executeTakeFirst();
    if (row) return toSnapshot(row);
    const current = await find(id);
    if (!current) throw notFound("snapshot", id);
    throw new StoreError("invalid-transition", `snapshot ${id} is ${current.status}; only a building snapshot can become ${to}`);
  };

  return {
    async create(input: CreateSnapshotInput) {
      const row = {
        id: input.id ?? randomUUID(),
        location: requireText(input.location, "location"),
        created_at: nowIso(ctx),
        size_bytes: requireCount(input.sizeBytes, "sizeBytes"),
        rows: requireCount(input.rows, "rows"),
        tables_count: requireCount(input.tablesCount, "tablesCount"),
        source_description: input.sourceDescription,
        rules_digest: input.rulesDigest ?? null,
        pinned: 0,
        status: input.status ?? "building",
      };
      requireText(row.id, "id");
      if (row.status !== "building" && row.status !== "ready") {
        throw new StoreError("invalid-input", `a new snapshot is building or ready, not ${String(row.status)}`);
      }
      await db.insertInto("snapshots").values(row).execute();
      return toSnapshot(row);
    },
    find,
    async get(id) {
      const snapshot = await find(id);
      if (!snapshot) throw notFound("snapshot", id);
      return snapshot;
    },
    async list(filter = {}) {
      const { status } = filter;
      if (status?.length === 0) return [];
      const rows = await db
        .selectFrom("snapshots")
        .selectAll()
        .$if(status === undefined, (q) => q.where("status", "!=", "deleted"))
        .$if(status !== undefined, (q) => q.where("status", "in", status ?? []))
        .$if(filter.pinned !== undefined, (q) => q.where("pinned", "=", filter.pinned ? 1 : 0))
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(pageLimit(filter))
        .execute();
      return rows.map(toSnapshot);
    },
    markReady(id, figures) {
      return finishBuild(id, "ready", {
        size_bytes: requireCount(figures.sizeBytes, "sizeBytes"),
        rows: requireCount(figures.rows, "rows"),
        tables_count: requireCount(figures.tablesCount, "tablesCount"),
        ...(figures.location !== undefined ? { location: requireText(figures.location, "location") } : {}),
      });
    },
    markFailed(id) {
      return finishBuild(id, "failed", {});
    },
    async setPinned(id, pinned) {
      const row = await db
        .updateTable("snapshots")
        .set({ pinned: pinned ? 1 : 0 })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound("snapshot", id);
      return toSnapshot(row);
    },
    delete(id) {
      return inTransaction(ctx, async (tx) => {
        const snapshot = await lockSnapshot(tx, id);
        if (snapshot.status === "deleted") return snapshot;
        if (snapshot.pinned) {
          throw new StoreError("conflict", `snapshot ${id} is pinned; unpin it before deleting it`);
        }
        const users = await instancesUsing(tx, id);
        if (users.length > 0) {
          const ids = users.map((instance) => instance.id).join(", ");
          throw new StoreError("conflict", `snapshot ${id} is assigned to instance(s) ${ids}; assign them another snapshot or terminate them first`);
        }
        const row = await tx.db
          .updateTable("snapshots")
          .set({ status: "deleted" })
          .where("id", "=", id)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toSnapshot(row);
      });
    },
    instancesUsing: (id) => instancesUsing(ctx, id),
  };
}
