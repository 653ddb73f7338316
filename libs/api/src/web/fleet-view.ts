import type { FleetOverviewOutput, JobState, JobView, SnapshotView } from "@devenv/protocol";
import type { Store, User } from "@devenv/store";
import { othersInstances, procedureRoles } from "../policy.ts";
import { fleetOverview } from "../routers/fleet.ts";
import type { LivenessOf } from "../views.ts";

/**
 * What a viewer may see, by the API's own rules: every instance or only their own
 * (instances.list), and jobs or not (jobs.list).
 */
export interface FleetScope {
  /** Only this owner's instances; undefined for the whole fleet. */
  ownerId: string | undefined;
  jobs: boolean;
}

export function scopeOf(user: User): FleetScope {
  return { ownerId: othersInstances[user.role].read ? undefined : user.id, jobs: procedureRoles["jobs.list"].includes(user.role) };
}

/** Viewers with equal keys see the same data, so they share one poll. */
export function scopeKey(scope: FleetScope): string {
  return `${scope.ownerId ?? "*"}|${scope.jobs ? "jobs" : "no-jobs"}`;
}

export interface FleetPageJob {
  id: string;
  kind: JobView["kind"];
  state: JobState;
  attempts: number;
  maxAttempts: number;
  parentId: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: string | null;
  /** The latest log line of a running job: how far it has got. */
  lastLog: string | null;
}

/** What the fleet page shows; `at` is the server's clock, which the page measures ages against. */
export interface FleetPageView {
  at: string;
  /** "fleet": every instance; "own": the viewer's instances only. */
  scope: "fleet" | "own";
  summary: Omit<FleetOverviewOutput, "at" | "instances">;
  owners: { id: string; name: string }[];
  instances: (FleetOverviewOutput["instances"][number] & { ownerName: string })[];
  /** Null when the viewer's role may not list jobs (jobs.list). */
  jobs: FleetPageJob[] | null;
  snapshots: Pick<SnapshotView, "id" | "status" | "sizeBytes" | "rows" | "tablesCount" | "pinned" | "createdAt" | "sourceDescription">[];
}

export interface FleetViewOptions {
  jobsLimit?: number;
  snapshotsLimit?: number;
}

/**
 * The page's data for one scope, read through the same functions as fleet.overview,
 * jobs.list and snapshots.list. A developer's view keeps only their own instances and
 * counts only those, so no fleet-wide figure leaks.
 */
export async function fleetPageView(store: Store, liveness: LivenessOf, now: Date, scope: FleetScope, options: FleetViewOptions = {}): Promise<FleetPageView> {
  const overview = await fleetOverview(store, liveness, now);
  const rows = scope.ownerId === undefined ? overview.instances : overview.instances.filter((row) => row.instance.ownerId === scope.ownerId);
  const users = await store.users.list();
  const nameOf = new Map(users.map((u) => [u.id, u.name]));
  const owners = [...new Set(rows.map((row) => row.instance.ownerId))].map((id) => ({ id, name: nameOf.get(id) ?? id })).sort((a, b) => a.name.localeCompare(b.name));

  const { at: _at, instances: _instances, ...fleetSummary } = overview;
  const summary = scope.ownerId === undefined ? fleetSummary : summarize(rows);
  const jobs = scope.jobs ? await pageJobs(store, options.jobsLimit ?? 50) : null;
  const snapshots = (await store.snapshots.list({ status: ["building", "ready", "failed"], limit: options.snapshotsLimit ?? 100 })).map(
    ({ id, status, sizeBytes, rows: snapshotRows, tablesCount, pinned, createdAt, sourceDescription }) => ({ id, status, sizeBytes, rows: snapshotRows, tablesCount, pinned, createdAt, sourceDescription }),
  );
  return {
    at: now.toISOString(),
    scope: scope.ownerId === undefined ? "fleet" : "own",
    summary,
    owners,
    instances: rows.map((row) => ({ ...row, ownerName: nameOf.get(row.instance.ownerId) ?? row.instance.ownerId })),
    jobs,
    snapshots,
  };
}

async function pageJobs(store: Store, limit: number): Promise<FleetPageJob[]> {
  const jobs = await store.jobs.list({ limit });
  const out: FleetPageJob[] = [];
  for (const job of jobs) {
    const lastLog = job.state === "running" ? ((await store.jobLogs.tail(job.id, 1))[0]?.line ?? null) : null;
    const { id, kind, state, attempts, maxAttempts, parentId, createdAt, startedAt, finishedAt, error } = job;
    out.push({ id, kind, state, attempts, maxAttempts, parentId, createdAt, startedAt, finishedAt, error, lastLog });
  }
  return out;
}

/** fleet.overview's figures over a subset of its rows. */
function summarize(rows: FleetOverviewOutput["instances"]): FleetPageView["summary"] {
  const count = (into: Record<string, number>, key: string) => {
    into[key] = (into[key] ?? 0) + 1;
  };
  const summary: FleetPageView["summary"] = { instancesByState: {}, agentsByState: {}, agentsByLiveness: {}, agentVersions: {}, restoreBytesPerSecond: 0 };
  for (const row of rows) {
    count(summary.instancesByState, row.instance.state);
    if (row.agent !== null) {
      count(summary.agentsByState, row.agent.state);
      count(summary.agentsByLiveness, row.agent.liveness);
      count(summary.agentVersions, row.agent.version);
    }
    summary.restoreBytesPerSecond += row.restore?.progress?.rate ?? 0;
  }
  return summary;
}
