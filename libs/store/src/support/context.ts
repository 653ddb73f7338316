import type { Clock } from "@devenv/core";
import type { Executor } from "../database.ts";
import { StoreError } from "../errors.ts";
import type { Page, StoreDialect } from "../store.ts";

/** What every repository works with: the executor (pool or transaction), the clock, the dialect. */
export interface RepoContext {
  db: Executor;
  clock: Clock;
  dialect: StoreDialect;
  /** Runs `effect` once the surrounding transaction committed; at once outside a transaction. */
  afterCommit: (effect: () => void) => void;
}

export function runNow(effect: () => void): void {
  effect();
}

/** Runs `work` in a transaction, joining the one `ctx` is already in. */
export async function inTransaction<T>(ctx: RepoContext, work: (tx: RepoContext) => Promise<T>): Promise<T> {
  if (ctx.db.isTransaction) return work(ctx);
  const effects: (() => void)[] = [];
  const result = await ctx.db
    .transaction()
    .execute((trx) => work({ ...ctx, db: trx, afterCommit: (effect) => effects.push(effect) }));
  for (const effect of effects) effect();
  return result;
}

export function nowIso(ctx: RepoContext): string {
  return ctx.clock.date().toISOString();
}

const defaultLimit = 100;
const maxLimit = 1000;

export function pageLimit(page: Page | undefined, fallback = defaultLimit): number {
  const limit = page?.limit ?? fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new StoreError("invalid-input", `limit must be an integer from 1 to ${maxLimit}, got ${limit}`);
  }
  return limit;
}

export function requireText(value: string, field: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new StoreError("invalid-input", `${field} must be a non-empty string`);
  }
  return value;
}

export function requireOneOf<T extends string>(value: string, allowed: readonly T[], field: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new StoreError("invalid-input", `${field} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

export function notFound(what: string, id: string): StoreError {
  return new StoreError("not-found", `${what} ${id} does not exist`);
}
