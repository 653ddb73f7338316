import { randomUUID } from "node:crypto";
import type { Selectable, Updateable } from "kysely";
import type { AgentsTable } from "../database.ts";
import { StoreError } from "../errors.ts";
import type { Agent, JsonObject } from "../model.ts";
import type { AgentsRepo, RegisterAgentInput, RegisteredAgent } from "../store.ts";
import { inTransaction, notFound, nowIso, pageLimit, requireText, type RepoContext } from "../support/context.ts";
import { fromJson, fromJsonObjectOrNull, toJson } from "../support/json.ts";
import { hashSecret, newSecret } from "../support/secrets.ts";
import { afterCursor, pageCursor } from "../support/paging.ts";
import { toInstance } from "./instances.ts";
import { consumeJoinToken } from "./join-tokens.ts";

function toAgent(row: Selectable<AgentsTable>): Agent {
  return {
    id: row.id,
    instanceId: row.instance_id,
    identity: fromJson(row.identity) as JsonObject,
    version: row.version,
    state: row.state,
    revoked: row.revoked === 1,
    createdAt: row.created_at,
    lastHeartbeatAt: row.last_heartbeat_at,
    health: fromJsonObjectOrNull(row.health),
  };
}

/**
 * An instance has one agent: registering a new one (a rebooted or replaced host)
 * revokes the credentials of the earlier ones.
 */
async function register(tx: RepoContext, instanceId: string, input: RegisterAgentInput): Promise<RegisteredAgent> {
  const instanceRow = await tx.db.selectFrom("instances").selectAll().where("id", "=", instanceId).executeTakeFirst();
  if (!instanceRow) throw notFound("instance", instanceId);
  const instance = toInstance(instanceRow);
  if (instance.state === "terminated") {
    throw new StoreError("invalid-transition", `instance ${instanceId} is terminated; an agent cannot register for it`);
  }
  await input.verify?.(instance);
  await tx.db.updateTable("agents").set({ revoked: 1 }).where("instance_id", "=", instanceId).where("revoked", "=", 0).execute();
  const credential = newSecret("agentCredential");
  const row = {
    id: randomUUID(),
    instance_id: instanceId,
    identity: toJson(input.identity),
    version: requireText(input.version, "version"),
    credential_hash: hashSecret(credential),
    revoked: 0,
    state: input.state ?? "registering",
    created_at: nowIso(tx),
    last_heartbeat_at: null,
    health: null,
  };
  await tx.db.insertInto("agents").values(row).execute();
  return { agent: toAgent(row), credential };
}

export function agentsRepo(ctx: RepoContext): AgentsRepo {
  const { db } = ctx;
  const find = async (id: string) => {
    const row = await db.selectFrom("agents").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toAgent(row);
  };
  const updateAgent = async (id: string, values: Updateable<AgentsTable>) => {
    const row = await db.updateTable("agents").set(values).where("id", "=", id).returningAll().executeTakeFirst();
    if (!row) throw notFound("agent", id);
    return toAgent(row);
  };

  return {
    register: (instanceId, input) => inTransaction(ctx, (tx) => register(tx, instanceId, input)),
    registerWithJoinToken(joinToken, input) {
      return inTransaction(ctx, async (tx) => {
        const token = await consumeJoinToken(tx, joinToken);
        return register(tx, token.instanceId, input);
      });
    },
    async authenticate(credential) {
      if (typeof credential !== "string" || credential === "") return null;
      const row = await db
        .selectFrom("agents")
        .selectAll()
        .where("credential_hash", "=", hashSecret(credential))
        .where("revoked", "=", 0)
        .executeTakeFirst();
      return row ? toAgent(row) : null;
    },
    find,
    async get(id) {
      const agent = await find(id);
      if (!agent) throw notFound("agent", id);
      return agent;
    },
    async list(filter = {}) {
      const limit = pageLimit(filter);
      const cursor = filter.after === undefined ? undefined : await pageCursor(db, "agents", filter.after);
      const rows = await db
        .selectFrom("agents")
        .selectAll()
        .$if(filter.instanceId !== undefined, (q) => q.where("instance_id", "=", filter.instanceId ?? ""))
        .$if(!filter.includeRevoked, (q) => q.where("revoked", "=", 0))
        .$if(cursor !== undefined, (q) => q.where(afterCursor(cursor!)))
        .orderBy("created_at")
        .orderBy("id")
        .limit(limit)
        .execute();
      return rows.map(toAgent);
    },
    async countByState() {
      const rows = await db
        .selectFrom("agents")
        .select((eb) => ["state", eb.fn.countAll<number>().as("count")])
        .where("revoked", "=", 0)
        .groupBy("state")
        .execute();
      return Object.fromEntries(rows.map((row) => [row.state, Number(row.count)]));
    },
    recordHeartbeat(id, report) {
      const values: Updateable<AgentsTable> = { last_heartbeat_at: nowIso(ctx) };
      if (report?.state !== undefined) values.state = requireText(report.state, "state");
      if (report?.health !== undefined) values.health = toJson(report.health);
      return updateAgent(id, values);
    },
    setState(id, state) {
      return updateAgent(id, { state: requireText(state, "state") });
    },
    revoke(id) {
      return updateAgent(id, { revoked: 1 });
    },
  };
}
