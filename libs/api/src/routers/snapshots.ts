import { ApiError } from "../api-error.ts";
import { procedure, router } from "../trpc.ts";
import { configuredShrink } from "./configured-source.ts";

export const snapshotsRouter = router({
  list: procedure("snapshots.list").query(({ ctx, input }) =>
    ctx.deps.store.snapshots.list({ status: input?.status ?? ["building", "ready", "failed"], pinned: input?.pinned, limit: input?.limit }),
  ),

  show: procedure("snapshots.show").query(async ({ ctx, input }) => {
    const snapshot = await ctx.deps.store.snapshots.get(input.id);
    const usedBy = (await ctx.deps.store.snapshots.instancesUsing(snapshot.id)).map(({ id, ownerId, kind, state }) => ({ id, ownerId, kind, state }));
    return { snapshot, usedBy };
  }),

  /** A new snapshot comes from a shrink job; the job runner makes and catalogues it. */
  create: procedure("snapshots.create").mutation(async ({ ctx, input }) => {
    const shrink = "shrink" in input ? input.shrink : configuredShrink(ctx.deps.sources, input.configured);
    return ctx.deps.store.transaction(async (tx) => {
      if (shrink.snapshotId !== undefined && (await tx.snapshots.find(shrink.snapshotId)) !== undefined) {
        throw new ApiError("conflict", `snapshot ${shrink.snapshotId} exists already; choose another id or leave it out`);
      }
      const job = await tx.jobs.enqueue({ kind: "shrink", payload: shrink });
      await tx.audit.record({ actor: ctx.user.id, action: "snapshot.create", subject: `job:${job.id}`, detail: { keyspace: shrink.source.keyspace, ...("configured" in input ? { source: input.configured.source ?? ctx.deps.sources[0]?.name ?? null } : {}) } });
      return { job };
    });
  }),

  delete: procedure("snapshots.delete").mutation(async ({ ctx, input }) => {
    const deleted = await ctx.deps.store.snapshots.delete(input.id);
    await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "snapshot.delete", subject: `snapshot:${input.id}`, detail: null });
    return deleted;
  }),

  pin: procedure("snapshots.pin").mutation(async ({ ctx, input }) => {
    const pinned = await ctx.deps.store.snapshots.setPinned(input.id, true);
    await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "snapshot.pin", subject: `snapshot:${input.id}`, detail: null });
    return pinned;
  }),

  unpin: procedure("snapshots.unpin").mutation(async ({ ctx, input }) => {
    const unpinned = await ctx.deps.store.snapshots.setPinned(input.id, false);
    await ctx.deps.store.audit.record({ actor: ctx.user.id, action: "snapshot.unpin", subject: `snapshot:${input.id}`, detail: null });
    return unpinned;
  }),
});
