import type { FleetOverviewOutput } from "@devenv/protocol";
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
  overview: procedure("fleet.overview").query(({ ctx }) => fleetOverview(ctx.deps.store, ctx.deps.liveness ?? (() => undefined), ctx.deps.clock.now())),
});
