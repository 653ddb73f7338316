import { z } from "zod";
import { ShrinkJobPayload } from "../job-payloads.ts";
import { Limit, ResourceId } from "./common.ts";
import { InstanceView, JobView, SnapshotStatus, SnapshotView } from "./records.ts";

export const SnapshotsListInput = z
  .strictObject({
    /** Default: every status but `deleted`. */
    status: z.array(SnapshotStatus).min(1).max(4).optional(),
    pinned: z.boolean().optional(),
    limit: Limit,
  })
  .optional();
export const SnapshotsListOutput = z.array(SnapshotView);

export const SnapshotIdInput = z.strictObject({ id: ResourceId });

export const SnapshotsShowOutput = z.object({
  snapshot: SnapshotView,
  /** Live instances that hold it or are being moved to it (why a delete is refused). */
  usedBy: z.array(InstanceView.pick({ id: true, ownerId: true, kind: true, state: true })),
});

/** A new snapshot is made by a shrink job; the job's result names the snapshot. */
/** A shrink of a source the control plane's config names (default: its first one). */
export const ConfiguredShrink = z.strictObject({
  source: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/, "a source name from the control plane's config").optional(),
  org: ShrinkJobPayload.shape.org,
  asOf: ShrinkJobPayload.shape.asOf,
  snapshotId: ShrinkJobPayload.shape.snapshotId,
  tasks: ShrinkJobPayload.shape.tasks,
});
export type ConfiguredShrink = z.infer<typeof ConfiguredShrink>;

export const SnapshotsCreateInput = z.union([z.strictObject({ shrink: ShrinkJobPayload }), z.strictObject({ configured: ConfiguredShrink })]);
export const SnapshotsCreateOutput = z.object({ job: JobView });

export const SnapshotOutput = SnapshotView;
