import { randomUUID } from "node:crypto";
import type { Selectable } from "kysely";
import type { JoinTokensTable } from "../database.ts";
import { StoreError } from "../errors.ts";
import type { JoinToken } from "../model.ts";
import type { JoinTokensRepo } from "../store.ts";
import { nowIso, type RepoContext } from "../support/context.ts";
import { hashSecret, newSecret } from "../support/secrets.ts";
import { addMs } from "../support/time.ts";

/** Long enough for a spot host to boot and register, short enough to be worthless when leaked later. */
export const defaultJoinTokenTtlMs = 15 * 60_000;

function toJoinToken(row: Selectable<JoinTokensTable>): JoinToken {
  return {
    id: row.id,
    instanceId: row.instance_id,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
  };
}

/** Marks a join token used in one statement, so of two agents presenting it only one wins. */
export async function consumeJoinToken(ctx: RepoContext, plaintext: string): Promise<JoinToken> {
  const hash = hashSecret(typeof plaintext === "string" ? plaintext : "");
  const now = nowIso(ctx);
  const row = await ctx.db
    .updateTable("join_tokens")
    .set({ used_at: now })
    .where("token_hash", "=", hash)
    .where("used_at", "is", null)
    .where("expires_at", ">", now)
    .returningAll()
    .executeTakeFirst();
  if (row) return toJoinToken(row);
  // say why, without revealing anything an unknown token's holder could use
  const existing = await ctx.db.selectFrom("join_tokens").selectAll().where("token_hash", "=", hash).executeTakeFirst();
  if (!existing) throw new StoreError("unauthorized", "join token is not valid; ask for a new one");
  if (existing.used_at !== null) {
    throw new StoreError("unauthorized", "join token was already used; a join token works once, ask for a new one");
  }
  throw new StoreError("expired", `join token expired at ${existing.expires_at}; ask for a new one`);
}

export function joinTokensRepo(ctx: RepoContext): JoinTokensRepo {
  const { db } = ctx;
  return {
    async issue(instanceId, options) {
      const ttlMs = options?.ttlMs ?? defaultJoinTokenTtlMs;
      if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) {
        throw new StoreError("invalid-input", `ttlMs must be a positive whole number of milliseconds, got ${ttlMs}`);
      }
      const plaintext = options?.plaintext ?? newSecret("joinToken");
      if (plaintext.length < 16) throw new StoreError("invalid-input", "a standing join token needs at least 16 characters");
      const now = ctx.clock.date();
      const row = {
        id: randomUUID(),
        token_hash: hashSecret(plaintext),
        instance_id: instanceId,
        created_at: now.toISOString(),
        expires_at: addMs(now, ttlMs),
        used_at: null,
      };
      // a standing token is re-armed: its earlier row (used or not) now belongs to this instance
      if (options?.plaintext !== undefined) await db.deleteFrom("join_tokens").where("token_hash", "=", row.token_hash).execute();
      await db.insertInto("join_tokens").values(row).execute();
      return { joinToken: toJoinToken(row), plaintext };
    },
    consume: (plaintext) => consumeJoinToken(ctx, plaintext),
    async list(instanceId) {
      const rows = await db
        .selectFrom("join_tokens")
        .selectAll()
        .where("instance_id", "=", instanceId)
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      return rows.map(toJoinToken);
    },
  };
}
