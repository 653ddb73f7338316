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
export const SnapshotsCreateInput = z.strictObject({ shrink: ShrinkJobPayload });
export const SnapshotsCreateOutput = z.object({ job: JobView });

export const SnapshotOutput = SnapshotView;
