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
