import type { z } from "zod";
import * as auth from "./auth.ts";
import { NoInput } from "./common.ts";
import { FleetCostInput, FleetCostOutput, FleetOverviewOutput } from "./fleet.ts";
import * as instances from "./instances.ts";
import * as jobs from "./jobs.ts";
import * as schedules from "./schedules.ts";
import * as snapshots from "./snapshots.ts";

export interface ProcedureSpec {
  type: "query" | "mutation";
  input: z.ZodType;
  output: z.ZodType;
}

/**
 * Every procedure of the people's API, by its dotted path: whether it reads or writes,
 * what it takes and what it returns. The server builds its routers from these and the
 * tests walk them (authorisation matrix, malformed input), so a new procedure is
 * declared here first.
 */
export const apiProcedures = {
  "auth.whoami": { type: "query", input: NoInput, output: auth.WhoamiOutput },
  "auth.tokens.list": { type: "query", input: auth.TokensListInput, output: auth.TokensListOutput },
  "auth.tokens.create": { type: "mutation", input: auth.TokensCreateInput, output: auth.CreatedTokenOutput },
  "auth.tokens.revoke": { type: "mutation", input: auth.TokensRevokeInput, output: auth.TokensRevokeOutput },
  "auth.users.list": { type: "query", input: NoInput, output: auth.UsersListOutput },
  "auth.users.create": { type: "mutation", input: auth.UsersCreateInput, output: auth.UsersCreateOutput },

  "snapshots.list": { type: "query", input: snapshots.SnapshotsListInput, output: snapshots.SnapshotsListOutput },
  "snapshots.show": { type: "query", input: snapshots.SnapshotIdInput, output: snapshots.SnapshotsShowOutput },
  "snapshots.create": { type: "mutation", input: snapshots.SnapshotsCreateInput, output: snapshots.SnapshotsCreateOutput },
  "snapshots.delete": { type: "mutation", input: snapshots.SnapshotIdInput, output: snapshots.SnapshotOutput },
  "snapshots.pin": { type: "mutation", input: snapshots.SnapshotIdInput, output: snapshots.SnapshotOutput },
  "snapshots.unpin": { type: "mutation", input: snapshots.SnapshotIdInput, output: snapshots.SnapshotOutput },

  "instances.list": { type: "query", input: instances.InstancesListInput, output: instances.InstancesListOutput },
  "instances.show": { type: "query", input: instances.InstanceIdInput, output: instances.InstancesShowOutput },
  "instances.up": { type: "mutation", input: instances.InstancesUpInput, output: instances.InstancesUpOutput },
  "instances.down": { type: "mutation", input: instances.InstancesDownInput, output: instances.InstanceOutput },
  "instances.extendTtl": { type: "mutation", input: instances.InstancesExtendTtlInput, output: instances.InstanceOutput },
  "instances.assign": { type: "mutation", input: instances.InstancesAssignInput, output: instances.InstancesAssignOutput },

  "fleet.overview": { type: "query", input: NoInput, output: FleetOverviewOutput },
  "fleet.cost": { type: "query", input: FleetCostInput, output: FleetCostOutput },

  "jobs.list": { type: "query", input: jobs.JobsListInput, output: jobs.JobsListOutput },
  "jobs.show": { type: "query", input: jobs.JobsShowInput, output: jobs.JobsShowOutput },
  "jobs.cancel": { type: "mutation", input: jobs.JobsCancelInput, output: jobs.JobsCancelOutput },

  "schedules.list": { type: "query", input: NoInput, output: schedules.SchedulesListOutput },
  "schedules.set": { type: "mutation", input: schedules.SchedulesSetInput, output: schedules.SchedulesSetOutput },
} as const satisfies Record<string, ProcedureSpec>;

export type ApiProcedurePath = keyof typeof apiProcedures;
export const apiProcedurePaths = Object.keys(apiProcedures) as ApiProcedurePath[];
