import type { Selectable } from "kysely";
import type { AuditEventsTable } from "../database.ts";
import type { AuditEvent } from "../model.ts";
import type { AuditRepo } from "../store.ts";
import { nowIso, pageLimit, requireText, type RepoContext } from "../support/context.ts";
import { fromJsonObjectOrNull, toJson } from "../support/json.ts";

function toAuditEvent(row: Selectable<AuditEventsTable>): AuditEvent {
  return {
    seq: Number(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    subject: row.subject,
    detail: fromJsonObjectOrNull(row.detail),
  };
}

export function auditRepo(ctx: RepoContext): AuditRepo {
  const { db } = ctx;
  return {
    async record(event) {
      const row = await db
        .insertInto("audit_events")
        .values({
          at: nowIso(ctx),
          actor: requireText(event.actor, "actor"),
          action: requireText(event.action, "action"),
          subject: event.subject,
          detail: event.detail == null ? null : toJson(event.detail),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toAuditEvent(row);
    },
    async list(filter = {}) {
      const rows = await db
        .selectFrom("audit_events")
        .selectAll()
        .$if(filter.actor !== undefined, (q) => q.where("actor", "=", filter.actor ?? ""))
        .$if(filter.subject !== undefined, (q) => q.where("subject", "=", filter.subject ?? ""))
        .$if(filter.action !== undefined, (q) => q.where("action", "=", filter.action ?? ""))
        .$if(filter.beforeSeq !== undefined, (q) => q.where("seq", "<", filter.beforeSeq ?? 0))
        .orderBy("seq", "desc")
        .limit(pageLimit(filter))
        .execute();
      return rows.map(toAuditEvent);
    },
  };
}
