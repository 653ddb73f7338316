import { z } from "zod";
import { Limit, ResourceId } from "./common.ts";
import { JobKind, JobLogLineView, JobState, JobView } from "./records.ts";

export const JobsListInput = z
  .strictObject({
    states: z.array(JobState).min(1).max(5).optional(),
    kinds: z.array(JobKind).min(1).max(3).optional(),
    parentId: ResourceId.optional(),
    limit: Limit,
  })
  .optional();
export const JobsListOutput = z.array(JobView);

export const JobsShowInput = z.strictObject({
  id: ResourceId,
  /** How many of the last log lines to return (default 100). */
  logLines: z.number().int().min(0).max(5000).optional(),
});
export const JobsShowOutput = z.object({
  job: JobView,
  log: z.array(JobLogLineView),
  children: z.record(JobState, z.number().int().min(0)),
});

export const JobsCancelInput = z.strictObject({ id: ResourceId });
export const JobsCancelOutput = JobView;
