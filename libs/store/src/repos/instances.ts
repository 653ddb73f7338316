import { randomUUID } from "node:crypto";
import type { Selectable, Updateable } from "kysely";
import type { InstancesTable } from "../database.ts";
import { StoreError } from "../errors.ts";
import { assertTransition } from "../lifecycle/instance-lifecycle.ts";
import {
  instanceKinds,
  instanceStates,
  provisionerKinds,
  type Instance,
  type InstanceKind,
  type InstanceState,
  type ProvisionerKind,
} from "../model.ts";
import type { CreateInstanceInput, InstancePatch, InstancesRepo, TransitionInput } from "../store.ts";
import { notFound, nowIso, pageLimit, requireOneOf, type RepoContext } from "../support/context.ts";
import { afterCursor, pageCursor } from "../support/paging.ts";
import { toIso, toIsoOrNull } from "../support/time.ts";

export function toInstance(row: Selectable<InstancesTable>): Instance {
  return {
    id: row.id,
    ownerId: row.owner_id,
    kind: row.kind as InstanceKind,
    provisioner: row.provisioner as ProvisionerKind,
    state: row.state as InstanceState,
    stateDetail: row.state_detail,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ttlExpiresAt: row.ttl_expires_at,
    snapshotId: row.snapshot_id,
    currentSnapshotId: row.current_snapshot_id,
    hostAddress: row.host_address,
    hostPort: row.host_port === null ? null : Number(row.host_port),
    providerId: row.provider_id,
    lastActivityAt: row.last_activity_at,
  };
}

function patchValues(patch: InstancePatch | undefined): Updateable<InstancesTable> {
  const values: Updateable<InstancesTable> = {};
  if (!patch) return values;
  if (patch.ttlExpiresAt !== undefined) values.ttl_expires_at = toIsoOrNull(patch.ttlExpiresAt, "ttlExpiresAt");
  if (patch.hostAddress !== undefined) values.host_address = patch.hostAddress;
  if (patch.hostPort !== undefined) values.host_port = requirePort(patch.hostPort);
  if (patch.providerId !== undefined) values.provider_id = patch.providerId;
  if (patch.lastActivityAt !== undefined) values.last_activity_at = toIsoOrNull(patch.lastActivityAt, "lastActivityAt");
  return values;
}

function requirePort(port: number | null | undefined): number | null {
  if (port === null || port === undefined) return null;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new StoreError("invalid-input", `hostPort must be a port number (1-65535), got ${port}`);
  }
  return port;
}

export function instancesRepo(ctx: RepoContext): InstancesRepo {
  const { db } = ctx;
  const find = async (id: string) => {
    const row = await db.selectFrom("instances").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toInstance(row);
  };
  const get = async (id: string) => {
    const instance = await find(id);
    if (!instance) throw notFound("instance", id);
    return instance;
  };

  return {
    async create(input: CreateInstanceInput) {
      const now = nowIso(ctx);
      const row = {
        id: randomUUID(),
        owner_id: input.ownerId,
        kind: requireOneOf(input.kind, instanceKinds, "kind"),
        provisioner: requireOneOf(input.provisioner, provisionerKinds, "provisioner"),
        state: "requested" satisfies InstanceState,
        state_detail: null,
        created_at: now,
        updated_at: now,
        ttl_expires_at: toIsoOrNull(input.ttlExpiresAt, "ttlExpiresAt"),
        snapshot_id: null,
        current_snapshot_id: null,
        host_address: input.hostAddress ?? null,
        host_port: requirePort(input.hostPort),
        provider_id: input.providerId ?? null,
        last_activity_at: now,
      };
      await db.insertInto("instances").values(row).execute();
      return toInstance(row);
    },
    find,
    get,
    async findByProviderId(providerId) {
      const row = await db
        .selectFrom("instances")
        .selectAll()
        .where("provider_id", "=", providerId)
        .orderBy((eb) => eb.case().when("state", "=", "terminated").then(1).else(0).end())
        .orderBy("created_at", "desc")
        .executeTakeFirst();
      return row && toInstance(row);
    },
    async list(filter = {}) {
      const { states } = filter;
      if (states?.length === 0) return [];
      for (const state of states ?? []) requireOneOf(state, instanceStates, "states");
      const limit = pageLimit(filter);
      const cursor = filter.after === undefined ? undefined : await pageCursor(db, "instances", filter.after);
      const rows = await db
        .selectFrom("instances")
        .selectAll()
        .$if(filter.ownerId !== undefined, (q) => q.where("owner_id", "=", filter.ownerId ?? ""))
        .$if(filter.kind !== undefined, (q) => q.where("kind", "=", filter.kind ?? ""))
        .$if(states === undefined, (q) => q.where("state", "!=", "terminated"))
        .$if(states !== undefined, (q) => q.where("state", "in", states ?? []))
        .$if(cursor !== undefined, (q) => q.where(afterCursor(cursor!)))
        .orderBy("created_at")
        .orderBy("id")
        .limit(limit)
        .execute();
      return rows.map(toInstance);
    },
    async countByState(filter = {}) {
      const rows = await db
        .selectFrom("instances")
        .select((eb) => ["state", eb.fn.countAll<number>().as("count")])
        .$if(filter.kind !== undefined, (q) => q.where("kind", "=", filter.kind ?? ""))
        .groupBy("state")
        .execute();
      const counts = Object.fromEntries(instanceStates.map((state) => [state, 0])) as Record<InstanceState, number>;
      for (const row of rows) counts[row.state as InstanceState] = Number(row.count);
      return counts;
    },
    async transition(id, input: TransitionInput) {
      const to = requireOneOf(input.to, instanceStates, "to");
      const current = await get(id);
      if (input.from !== undefined && input.from !== current.state) {
        throw new StoreError("conflict", `instance ${id} is ${current.state}, not ${input.from}; reload it and decide again`);
      }
      assertTransition(id, current.state, to);
      const values: Updateable<InstancesTable> = {
        ...patchValues(input.patch),
        state: to,
        state_detail: input.detail ?? null,
        updated_at: nowIso(ctx),
      };
      // compare-and-set: only if nobody moved it since we read it
      const row = await db
        .updateTable("instances")
        .set(values)
        .where("id", "=", id)
        .where("state", "=", current.state)
        .returningAll()
        .executeTakeFirst();
      if (!row) {
        const now = await get(id);
        throw new StoreError("conflict", `instance ${id} moved from ${current.state} to ${now.state} while moving it to ${to}; reload it and decide again`);
      }
      return toInstance(row);
    },
    async update(id, patch) {
      const row = await db
        .updateTable("instances")
        .set({ ...patchValues(patch), updated_at: nowIso(ctx) })
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound("instance", id);
      return toInstance(row);
    },
    async touch(id) {
      const result = await db
        .updateTable("instances")
        .set({ last_activity_at: nowIso(ctx) })
        .where("id", "=", id)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw notFound("instance", id);
    },
    async listExpired(at) {
      const cutoff = at === undefined ? nowIso(ctx) : toIso(at, "at");
      const rows = await db
        .selectFrom("instances")
        .selectAll()
        .where("kind", "=", "personal")
        .where("state", "not in", ["draining", "terminated"])
        .where("ttl_expires_at", "<=", cutoff)
        .orderBy("ttl_expires_at")
        .execute();
      return rows.map(toInstance);
    },
  };
}
