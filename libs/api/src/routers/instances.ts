import { ApiError } from "../api-error.ts";
import { mayCreateShared, othersInstances } from "../policy.ts";
import { procedure, router } from "../trpc.ts";
import { agentView, assignmentView } from "../views.ts";
import { instanceFor } from "./access.ts";

export const instancesRouter = router({
  /** A developer sees their own instances; asking for someone else's is `forbidden`. */
  list: procedure("instances.list").query(async ({ ctx, input }) => {
    const mayReadOthers = othersInstances[ctx.user.role].read;
    if (input?.ownerId !== undefined && input.ownerId !== ctx.user.id && !mayReadOthers) {
      throw new ApiError("forbidden", "as a developer you may list your own instances only; leave ownerId out");
    }
    const ownerId = mayReadOthers ? input?.ownerId : ctx.user.id;
    return ctx.deps.store.instances.list({ ownerId, kind: input?.kind, states: input?.states, limit: input?.limit });
  }),

  show: procedure("instances.show").query(async ({ ctx, input }) => {
    const instance = await instanceFor(ctx.deps.store, ctx.user, input.id, "read");
    const [agent] = await ctx.deps.store.agents.list({ instanceId: instance.id });
    const latest = await ctx.deps.store.assignments.latestForInstance(instance.id);
    return {
      instance,
      agent: agent ? agentView(agent, ctx.deps.liveness ?? (() => undefined)) : null,
      latestAssignment: latest ? assignmentView(latest) : null,
    };
  }),

  up: procedure("instances.up").mutation(async ({ ctx, input }) => {
    if (input.kind === "shared" && !mayCreateShared(ctx.user.role)) throw new ApiError("forbidden", "shared instances are started by ops or admin; ask for a personal one");
    const { instance, assignment, joinToken } = await ctx.deps.instances.up(ctx.user, input);
    return { instance, assignment: assignment ? assignmentView(assignment) : null, ...(joinToken ? { joinToken } : {}) };
  }),

  down: procedure("instances.down").mutation(async ({ ctx, input }) => {
    const instance = await instanceFor(ctx.deps.store, ctx.user, input.id, "end");
    return ctx.deps.instances.down(ctx.user, instance);
  }),

  extendTtl: procedure("instances.extendTtl").mutation(async ({ ctx, input }) => {
    const instance = await instanceFor(ctx.deps.store, ctx.user, input.id, "end");
    return ctx.deps.instances.extendTtl(ctx.user, instance, input.hours);
  }),

  assign: procedure("instances.assign").mutation(async ({ ctx, input }) => {
    const instance = await instanceFor(ctx.deps.store, ctx.user, input.id, "assign");
    const { assignment, delivered } = await ctx.deps.instances.assign(ctx.user, instance, input.snapshotId);
    return { assignment: assignmentView(assignment), delivered };
  }),
});
