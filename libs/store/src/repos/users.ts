import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { UsersTable } from "../database.ts";
import { userRoles, type User, type UserRole } from "../model.ts";
import type { CreateUserInput, UsersRepo } from "../store.ts";
import { notFound, nowIso, requireOneOf, requireText, type RepoContext } from "../support/context.ts";

export function toUser(row: Selectable<UsersTable>): User {
  return {
    id: row.id,
    name: row.name,
    role: row.role as UserRole,
    slackUserId: row.slack_user_id,
    createdAt: row.created_at,
  };
}

export function usersRepo(ctx: RepoContext): UsersRepo {
  const { db } = ctx;
  const find = async (id: string) => {
    const row = await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return row && toUser(row);
  };
  return {
    async create(input: CreateUserInput) {
      const row = {
        id: randomUUID(),
        name: requireText(input.name, "name"),
        role: requireOneOf(input.role, userRoles, "role"),
        slack_user_id: input.slackUserId ?? null,
        created_at: nowIso(ctx),
      };
      await db.insertInto("users").values(row).execute();
      return toUser(row);
    },
    find,
    async get(id) {
      const user = await find(id);
      if (!user) throw notFound("user", id);
      return user;
    },
    async findByName(name) {
      const row = await db.selectFrom("users").selectAll().where("name", "=", name).executeTakeFirst();
      return row && toUser(row);
    },
    async findBySlackUserId(slackUserId) {
      const row = await db.selectFrom("users").selectAll().where("slack_user_id", "=", slackUserId).executeTakeFirst();
      return row && toUser(row);
    },
    async list() {
      const rows = await db.selectFrom("users").selectAll().orderBy("created_at").orderBy("name").execute();
      return rows.map(toUser);
    },
    async update(id, patch: { role?: UserRole; slackUserId?: string | null }) {
      const values: { role?: string; slack_user_id?: string | null } = {};
      if (patch.role !== undefined) values.role = requireOneOf(patch.role, userRoles, "role");
      if (patch.slackUserId !== undefined) values.slack_user_id = patch.slackUserId;
      const row =
        Object.keys(values).length === 0
          ? await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst()
          : await db.updateTable("users").set(values).where("id", "=", id).returningAll().executeTakeFirst();
      if (!row) throw notFound("user", id);
      return toUser(row);
    },
    async count() {
      const { count } = await db
        .selectFrom("users")
        .select((eb) => eb.fn.countAll<number>().as("count"))
        .executeTakeFirstOrThrow();
      return Number(count);
    },
  };
}
