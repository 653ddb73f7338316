import { nextRunAfter } from "@devenv/jobs";
import { procedure, router } from "../trpc.ts";

export const schedulesRouter = router({
  list: procedure("schedules.list").query(({ ctx }) => ctx.deps.store.schedules.list()),

  /** Validates cron and time zone by computing the next run (a bad one is `bad-request`), then creates or replaces. */
  set: procedure("schedules.set").mutation(async ({ ctx, input }) => {
    const nextRunAt = nextRunAfter(input.cron, input.timezone, ctx.deps.clock.date());
    const schedule = await ctx.deps.store.schedules.upsert({ ...input, nextRunAt: input.enabled ? nextRunAt : null });
    await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "schedule.set", subject: `schedule:${schedule.name}`, detail: { cron: input.cron, timezone: input.timezone, kind: input.kind, enabled: input.enabled } });
    return schedule;
  }),
});
