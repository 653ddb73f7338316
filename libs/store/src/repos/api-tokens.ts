import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { ApiTokensTable } from "../database.ts";
import { isStoreError } from "../errors.ts";
import type { ApiToken, TimeInput } from "../model.ts";
import type { ApiTokensRepo, CreatedToken } from "../store.ts";
import { inTransaction, notFound, nowIso, requireText, type RepoContext } from "../support/context.ts";
import { displayPrefix, hashSecret, newSecret } from "../support/secrets.ts";
import { toIsoOrNull } from "../support/time.ts";
import { toUser, usersRepo } from "./users.ts";

/** lastUsedAt is a hint for people, not an audit log: write it at most this often per token. */
const lastUsedResolutionMs = 60_000;

function toApiToken(row: Selectable<ApiTokensTable>): ApiToken {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export function apiTokensRepo(ctx: RepoContext): ApiTokensRepo {
  const { db } = ctx;

  async function create(tx: RepoContext, input: { userId: string; name: string; expiresAt?: TimeInput | null }): Promise<CreatedToken> {
    const plaintext = newSecret("apiToken");
    const row = {
      id: randomUUID(),
      user_id: input.userId,
      name: requireText(input.name, "token name"),
      prefix: displayPrefix(plaintext),
      token_hash: hashSecret(plaintext),
      created_at: nowIso(tx),
      expires_at: toIsoOrNull(input.expiresAt, "expiresAt"),
      last_used_at: null,
      revoked_at: null,
    };
    await tx.db.insertInto("api_tokens").values(row).execute();
    return { token: toApiToken(row), plaintext };
  }

  const get = async (id: string) => {
    const row = await db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) throw notFound("api token", id);
    return toApiToken(row);
  };

  return {
    create: (input) => create(ctx, input),
    async authenticate(plaintext) {
      if (typeof plaintext !== "string" || plaintext === "") return null;
      const now = ctx.clock.date();
      const nowText = now.toISOString();
      const row = await db
        .selectFrom("api_tokens")
        .innerJoin("users", "users.id", "api_tokens.user_id")
        .selectAll("users")
        .select(["api_tokens.id as token_id", "api_tokens.last_used_at as token_last_used_at"])
        .where("api_tokens.token_hash", "=", hashSecret(plaintext))
        .where("api_tokens.revoked_at", "is", null)
        .where((eb) => eb.or([eb("api_tokens.expires_at", "is", null), eb("api_tokens.expires_at", ">", nowText)]))
        .executeTakeFirst();
      if (!row) return null;
      const stale = new Date(now.getTime() - lastUsedResolutionMs).toISOString();
      if (row.token_last_used_at === null || row.token_last_used_at < stale) {
        await db.updateTable("api_tokens").set({ last_used_at: nowText }).where("id", "=", row.token_id).execute();
      }
      return toUser(row);
    },
    async revoke(id) {
      const row = await db
        .updateTable("api_tokens")
        .set((eb) => ({ revoked_at: eb.fn.coalesce("revoked_at", eb.val(nowIso(ctx))) }))
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound("api token", id);
      return toApiToken(row);
    },
    get,
    async list(userId) {
      const rows = await db
        .selectFrom("api_tokens")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      return rows.map(toApiToken);
    },
    async bootstrapAdmin(input) {
      try {
        return await inTransaction(ctx, async (tx) => {
          const users = usersRepo(tx);
          if ((await users.count()) > 0) return null;
          const user = await users.create({ name: input?.name ?? "admin", role: "admin" });
          const created = await create(tx, { userId: user.id, name: "first admin token" });
          return { ...created, user };
        });
      } catch (error) {
        // two replicas starting at once: the one whose insert lost is not the first run
        if (isStoreError(error, "conflict") || isUniqueViolation(error)) return null;
        throw error;
      }
    },
  };
}

function isUniqueViolation(error: unknown): boolean {
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE";
}
