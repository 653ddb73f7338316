import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { SchedulesTable } from "../database.ts";
import { jobKinds, type JobKind, type Schedule } from "../model.ts";
import type { SchedulesRepo, UpsertScheduleInput } from "../store.ts";
import { notFound, nowIso, requireOneOf, requireText, type RepoContext } from "../support/context.ts";
import { fromJson, toJson } from "../support/json.ts";
import { toIso, toIsoOrNull } from "../support/time.ts";

function toSchedule(row: Selectable<SchedulesTable>): Schedule {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    kind: row.kind as JobKind,
    payload: fromJson(row.payload),
    enabled: row.enabled === 1,
    lastRunAt: row.last_run_at,
    nextRunAt: row.next_run_at,
  };
}

export function schedulesRepo(ctx: RepoContext): SchedulesRepo {
  const { db } = ctx;
  const get = async (id: string) => {
    const row = await db.selectFrom("schedules").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw notFound("schedule", id);
    return toSchedule(row);
  };

  return {
    async upsert(input: UpsertScheduleInput) {
      const values = {
        cron: requireText(input.cron, "cron"),
        timezone: requireText(input.timezone, "timezone"),
        kind: requireOneOf(input.kind, jobKinds, "kind"),
        payload: toJson(input.payload),
        enabled: input.enabled === false ? 0 : 1,
        next_run_at: toIsoOrNull(input.nextRunAt, "nextRunAt"),
      };
      const row = await db
        .insertInto("schedules")
        .values({ id: randomUUID(), name: requireText(input.name, "name"), last_run_at: null, ...values })
        .onConflict((oc) => oc.column("name").doUpdateSet(values))
        .returningAll()
        .executeTakeFirstOrThrow();
      return toSchedule(row);
    },
    get,
    async findByName(name) {
      const row = await db.selectFrom("schedules").selectAll().where("name", "=", name).executeTakeFirst();
      return row && toSchedule(row);
    },
    async list() {
      const rows = await db.selectFrom("schedules").selectAll().orderBy("name").execute();
      return rows.map(toSchedule);
    },
    async setEnabled(id, enabled) {
      const row = await db
        .updateTable("schedules")
        .set({ enabled: enabled ? 1 : 0 })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound("schedule", id);
      return toSchedule(row);
    },
    async due(at) {
      const cutoff = at === undefined ? nowIso(ctx) : toIso(at, "at");
      const rows = await db
        .selectFrom("schedules")
        .selectAll()
        .where("enabled", "=", 1)
        .where("next_run_at", "<=", cutoff)
        .orderBy("next_run_at")
        .orderBy("name")
        .execute();
      return rows.map(toSchedule);
    },
    async claimRun(id, expectedNextRunAt, nextRunAt) {
      const result = await db
        .updateTable("schedules")
        .set({ last_run_at: nowIso(ctx), next_run_at: toIsoOrNull(nextRunAt, "nextRunAt") })
        .where("id", "=", id)
        .where("next_run_at", "=", toIso(expectedNextRunAt, "expectedNextRunAt"))
        .executeTakeFirst();
      if (result.numUpdatedRows > 0n) return true;
      await get(id); // not-found rather than a silent false for an unknown schedule
      return false;
    },
    async delete(id) {
      const result = await db.deleteFrom("schedules").where("id", "=", id).executeTakeFirst();
      if (result.numDeletedRows === 0n) throw notFound("schedule", id);
    },
  };
}
