import { nextRunAfter } from "@devenv/jobs";
import type { SchedulesSetInput } from "@devenv/protocol";
import type { z } from "zod";
import { procedure, router, type ShrinkSource } from "../trpc.ts";
import { configuredShrink } from "./configured-source.ts";

export const schedulesRouter = router({
  list: procedure("schedules.list").query(({ ctx }) => ctx.deps.store.schedules.list()),

  /** Validates cron and time zone by computing the next run (a bad one is `bad-request`), then creates or replaces. */
  set: procedure("schedules.set").mutation(async ({ ctx, input }) => {
    const nextRunAt = nextRunAfter(input.cron, input.timezone, ctx.deps.clock.date());
    const schedule = await ctx.deps.store.schedules.upsert({ ...input, payload: resolvedPayload(ctx.deps.sources, input), nextRunAt: input.enabled ? nextRunAt : null });
    await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "schedule.set", subject: `schedule:${schedule.name}`, detail: { cron: input.cron, timezone: input.timezone, kind: input.kind, enabled: input.enabled } });
    return schedule;
  }),
});

/** The job payload a schedule stores: a configured source is resolved now, when it is set. */
function resolvedPayload(sources: readonly ShrinkSource[], input: z.output<typeof SchedulesSetInput>) {
  switch (input.kind) {
    case "shrink":
      return "configured" in input.payload ? configuredShrink(sources, input.payload.configured) : input.payload;
    case "refresh": {
      const { shrink } = input.payload;
      return { ...input.payload, shrink: "configured" in shrink ? configuredShrink(sources, shrink.configured) : shrink };
    }
  }
}
