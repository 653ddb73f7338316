import { procedure, router } from "../trpc.ts";

export const jobsRouter = router({
  list: procedure("jobs.list").query(({ ctx, input }) => ctx.deps.store.jobs.list({ states: input?.states, kinds: input?.kinds, parentId: input?.parentId, limit: input?.limit })),

  show: procedure("jobs.show").query(async ({ ctx, input }) => {
    const job = await ctx.deps.store.jobs.get(input.id);
    const lines = input.logLines ?? 100;
    const log = lines === 0 ? [] : (await ctx.deps.store.jobLogs.tail(job.id, lines)).map(({ seq, at, level, line }) => ({ seq, at, level, line }));
    return { job, log, children: await ctx.deps.store.jobs.childCounts(job.id) };
  }),

  cancel: procedure("jobs.cancel").mutation(async ({ ctx, input }) => {
    const cancelled = await ctx.deps.store.jobs.cancel(input.id);
    await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "job.cancel", subject: `job:${input.id}`, detail: null });
    return cancelled;
  }),
});
