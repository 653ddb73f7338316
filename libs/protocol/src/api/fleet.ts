import { z } from "zod";
import { AgentView, AssignmentView, InstanceView } from "./records.ts";

export const FleetOverviewOutput = z.object({
  at: z.string(),
  instancesByState: z.record(z.string(), z.number().int().min(0)),
  agentsByState: z.record(z.string(), z.number().int().min(0)),
  agentsByLiveness: z.record(z.string(), z.number().int().min(0)),
  /** How many live agents run each version (a rollout shows as two versions). */
  agentVersions: z.record(z.string(), z.number().int().min(0)),
  instances: z.array(
    z.object({
      instance: InstanceView,
      agent: AgentView.nullable(),
      /** The unfinished assignment with its restore progress, if any. */
      restore: AssignmentView.nullable(),
    }),
  ),
  /** Sum of the reported restore rates of the restores in flight. */
  restoreBytesPerSecond: z.number().min(0),
});
export type FleetOverviewOutput = z.infer<typeof FleetOverviewOutput>;

/** Instance-hours over a period: from inclusive, to (default now) exclusive. */
export const FleetCostInput = z.strictObject({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }).optional(),
});
export const FleetCostOutput = z.object({
  from: z.string(),
  to: z.string(),
  rows: z.array(
    z.object({
      ownerId: z.string(),
      ownerName: z.string().nullable(),
      /** spot or on-demand EC2, self-hosted (local, static), or unknown. */
      market: z.enum(["spot", "on-demand", "self-hosted", "unknown"]),
      instances: z.number().int().min(0),
      hours: z.number().min(0),
    }),
  ),
  totalHours: z.number().min(0),
});
export type FleetCostOutput = z.infer<typeof FleetCostOutput>;
