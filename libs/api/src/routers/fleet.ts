import type { FleetCostOutput, FleetOverviewOutput } from "@devenv/protocol";
import { instanceHours } from "@devenv/fleet";
import { ApiError } from "../api-error.ts";
import { allPages, type Store } from "@devenv/store";
import { procedure, router } from "../trpc.ts";
import { agentView, assignmentView, type LivenessOf } from "../views.ts";

const unfinished = new Set(["pending", "sent", "running"]);

/** Every live instance with its agent and restore in flight; figures by state, liveness and version. */
export async function fleetOverview(store: Store, liveness: LivenessOf, now: Date): Promise<FleetOverviewOutput> {
  const instances = await allPages((page) => store.instances.list(page));
  const agents = await allPages((page) => store.agents.list(page));
  const agentByInstance = new Map(agents.map((a) => [a.instanceId, agentView(a, liveness)]));
  const count = (into: Record<string, number>, key: string) => {
    into[key] = (into[key] ?? 0) + 1;
  };
  const instancesByState: Record<string, number> = {};
  const agentsByState: Record<string, number> = {};
  const agentsByLiveness: Record<string, number> = {};
  const agentVersions: Record<string, number> = {};
  for (const agent of agentByInstance.values()) {
    count(agentsByState, agent.state);
    count(agentsByLiveness, agent.liveness);
    count(agentVersions, agent.version);
  }
  let restoreBytesPerSecond = 0;
  const rows: FleetOverviewOutput["instances"] = [];
  for (const instance of instances) {
    count(instancesByState, instance.state);
    const latest = await store.assignments.latestForInstance(instance.id);
    const restore = latest && unfinished.has(latest.state) ? assignmentView(latest) : null;
    restoreBytesPerSecond += restore?.progress?.rate ?? 0;
    rows.push({ instance, agent: agentByInstance.get(instance.id) ?? null, restore });
  }
  return { at: now.toISOString(), instancesByState, agentsByState, agentsByLiveness, agentVersions, instances: rows, restoreBytesPerSecond };
}

export const fleetRouter = router({
  overview: procedure("fleet.overview").query(({ ctx }) => fleetOverview(ctx.deps.store, ctx.deps.liveness ?? (() => undefined), ctx.deps.clock.date())),
  cost: procedure("fleet.cost").query(async ({ ctx, input }): Promise<FleetCostOutput> => {
    const from = new Date(input.from);
    const to = input.to === undefined ? ctx.deps.clock.date() : new Date(input.to);
    if (!(from < to) || to > ctx.deps.clock.date()) {
      throw new ApiError("bad-request", `the period must start before it ends and not end in the future (from ${from.toISOString()}, to ${to.toISOString()})`);
    }
    const rows = await instanceHours({ store: ctx.deps.store, clock: ctx.deps.clock, from, to, hosts: ctx.deps.hosts });
    const totalHours = Math.round(rows.reduce((n, r) => n + r.hours, 0) * 100) / 100;
    return { from: from.toISOString(), to: to.toISOString(), rows, totalHours };
  }),
});
