import type { Store, User } from "@devenv/store";
import { ApiError } from "../api-error.ts";
import { roleSummary } from "../policy.ts";
import { procedure, router } from "../trpc.ts";

/** Whose tokens: the caller's own, or (admin only) another user's; others' ids are `not-found`. */
async function tokenOwner(store: Store, caller: User, userId: string | undefined): Promise<User> {
  if (userId === undefined || userId === caller.id) return caller;
  if (caller.role !== "admin") throw new ApiError("forbidden", "only an admin manages other users' tokens");
  const user = await store.users.find(userId);
  if (user === undefined) throw new ApiError("not-found", `user ${userId} not found`);
  return user;
}

export const authRouter = router({
  whoami: procedure("auth.whoami").query(({ ctx }) => ({ user: ctx.user, summary: roleSummary(ctx.user.role) })),

  tokens: router({
    list: procedure("auth.tokens.list").query(async ({ ctx, input }) => {
      const owner = await tokenOwner(ctx.deps.store, ctx.user, input?.userId);
      return ctx.deps.store.tokens.list(owner.id);
    }),
    create: procedure("auth.tokens.create").mutation(async ({ ctx, input }) => {
      const owner = await tokenOwner(ctx.deps.store, ctx.user, input.userId);
      const expiresAt = input.expiresInDays === undefined ? null : new Date(ctx.deps.clock.now() + input.expiresInDays * 86_400_000);
      const created = await ctx.deps.store.tokens.create({ userId: owner.id, name: input.name, expiresAt });
      await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "token.create", subject: `token:${created.token.id}`, detail: { userId: owner.id, name: input.name } });
      return created;
    }),
    revoke: procedure("auth.tokens.revoke").mutation(async ({ ctx, input }) => {
      const token = await ctx.deps.store.tokens.get(input.id).catch(() => undefined);
      if (token === undefined || (token.userId !== ctx.user.id && ctx.user.role !== "admin")) throw new ApiError("not-found", `token ${input.id} not found; see auth.tokens.list`);
      const revoked = await ctx.deps.store.tokens.revoke(token.id);
      await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "token.revoke", subject: `token:${token.id}`, detail: { userId: token.userId } });
      return revoked;
    }),
  }),

  users: router({
    list: procedure("auth.users.list").query(({ ctx }) => ctx.deps.store.users.list()),
    create: procedure("auth.users.create").mutation(async ({ ctx, input }) =>
      ctx.deps.store.transaction(async (tx) => {
        const user = await tx.users.create({ name: input.name, role: input.role, slackUserId: input.slackUserId ?? null });
        const token = await tx.tokens.create({ userId: user.id, name: input.tokenName ?? "initial" });
        await tx.audit.record({ actor: ctx.user.id, action: "user.create", subject: `user:${user.id}`, detail: { name: user.name, role: user.role } });
        return { user, token };
      }),
    ),
  }),
});
