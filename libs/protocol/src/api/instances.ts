import { z } from "zod";
import { Limit, ResourceId } from "./common.ts";
import { AgentView, AssignmentView, InstanceKind, InstanceState, InstanceView } from "./records.ts";

/** Personal instances live at most this long without an extension. */
export const maxTtlHours = 24 * 14;

export const InstancesListInput = z
  .strictObject({
    /** Another user's instances: ops and admin only. A developer always sees their own. */
    ownerId: ResourceId.optional(),
    kind: InstanceKind.optional(),
    /** Default: every state but `terminated`. */
    states: z.array(InstanceState).min(1).max(9).optional(),
    limit: Limit,
  })
  .optional();
export const InstancesListOutput = z.array(InstanceView);

export const InstanceIdInput = z.strictObject({ id: ResourceId });

export const InstancesShowOutput = z.object({
  instance: InstanceView,
  agent: AgentView.nullable(),
  latestAssignment: AssignmentView.nullable(),
});

export const InstancesUpInput = z.strictObject({
  /** `shared` instances (team hosts) need the ops or admin role. */
  kind: InstanceKind.default("personal"),
  /** Restore this snapshot once the host registers (must be `ready`). */
  snapshotId: ResourceId.optional(),
  /** Personal instances only: how long until the reaper ends it (default 12 h). */
  ttlHours: z.number().int().min(1).max(maxTtlHours).optional(),
});
export const InstancesUpOutput = z.object({
  instance: InstanceView,
  assignment: AssignmentView.nullable(),
  /** A one-time join token for the operator to hand over: a static host that has no standing token of its own. */
  joinToken: z.string().optional(),
});

export const InstancesDownInput = InstanceIdInput;
export const InstanceOutput = InstanceView;

export const InstancesExtendTtlInput = z.strictObject({
  id: ResourceId,
  /** Hours added to the later of now and the current expiry; the total stays within maxTtlHours from now. */
  hours: z.number().int().min(1).max(maxTtlHours),
});

export const InstancesAssignInput = z.strictObject({
  id: ResourceId,
  snapshotId: ResourceId,
});
export const InstancesAssignOutput = z.object({
  assignment: AssignmentView,
  /** Whether the assignment went to a connected agent now, or waits for the agent to register. */
  delivered: z.boolean(),
});
