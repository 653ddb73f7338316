import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { AgentCommandsTable } from "../database.ts";
import type { AgentCommand, JsonValue } from "../model.ts";
import type { CommandsRepo, EnqueueCommandInput } from "../store.ts";
import { notFound, nowIso, requireText, type RepoContext } from "../support/context.ts";
import { fromJson, fromJsonOrNull, toJson } from "../support/json.ts";

function toCommand(row: Selectable<AgentCommandsTable>): AgentCommand {
  return {
    id: row.id,
    agentId: row.agent_id,
    seq: Number(row.seq),
    type: row.type,
    payload: fromJson(row.payload),
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at,
    ackedAt: row.acked_at,
    result: fromJsonOrNull(row.result),
  };
}

export function commandsRepo(ctx: RepoContext): CommandsRepo {
  const { db } = ctx;
  const get = async (id: string) => {
    const row = await db.selectFrom("agent_commands").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw notFound("command", id);
    return toCommand(row);
  };

  return {
    async enqueue(input: EnqueueCommandInput) {
      // ON CONFLICT DO NOTHING rather than catching the violation: on PostgreSQL an error
      // would abort a surrounding transaction
      const inserted = await db
        .insertInto("agent_commands")
        .values({
          id: randomUUID(),
          agent_id: input.agentId,
          type: requireText(input.type, "type"),
          payload: toJson(input.payload),
          idempotency_key: requireText(input.idempotencyKey, "idempotencyKey"),
          created_at: nowIso(ctx),
          delivered_at: null,
          acked_at: null,
          result: null,
        })
        .onConflict((oc) => oc.columns(["agent_id", "idempotency_key"]).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted) return { command: toCommand(inserted), created: true };
      const existing = await db
        .selectFrom("agent_commands")
        .selectAll()
        .where("agent_id", "=", input.agentId)
        .where("idempotency_key", "=", input.idempotencyKey)
        .executeTakeFirstOrThrow();
      return { command: toCommand(existing), created: false };
    },
    get,
    async pending(agentId) {
      const rows = await db
        .selectFrom("agent_commands")
        .selectAll()
        .where("agent_id", "=", agentId)
        .where("acked_at", "is", null)
        .orderBy("seq")
        .execute();
      return rows.map(toCommand);
    },
    async markDelivered(id) {
      const row = await db
        .updateTable("agent_commands")
        .set((eb) => ({ delivered_at: eb.fn.coalesce("delivered_at", eb.val(nowIso(ctx))) }))
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound("command", id);
      return toCommand(row);
    },
    async markAcked(id, result?: JsonValue) {
      const now = nowIso(ctx);
      // the first acknowledgement wins; an ack implies delivery even if we missed recording it
      const row = await db
        .updateTable("agent_commands")
        .set((eb) => ({
          acked_at: now,
          delivered_at: eb.fn.coalesce("delivered_at", eb.val(now)),
          result: result === undefined ? null : toJson(result),
        }))
        .where("id", "=", id)
        .where("acked_at", "is", null)
        .returningAll()
        .executeTakeFirst();
      return row ? toCommand(row) : get(id);
    },
  };
}
