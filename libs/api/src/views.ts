import type { AgentView, AssignmentView } from "@devenv/protocol";
import { AgentHealth, RestoreProgressView } from "@devenv/protocol";
import type { Agent, Assignment } from "@devenv/store";

/** How the hub judges an agent's heartbeats; undefined when no hub on this replica watches it. */
export type LivenessOf = (agentId: string) => "healthy" | "unhealthy" | "lost" | undefined;

export function agentView(agent: Agent, liveness: LivenessOf): AgentView {
  const health = AgentHealth.safeParse(agent.health);
  const hostname = agent.identity["hostname"];
  return {
    id: agent.id,
    instanceId: agent.instanceId,
    version: agent.version,
    state: agent.state,
    liveness: liveness(agent.id) ?? "unknown",
    revoked: agent.revoked,
    createdAt: agent.createdAt,
    lastHeartbeatAt: agent.lastHeartbeatAt,
    // health is whatever the agent sent; a shape from another agent version shows as unknown
    health: health.success ? health.data : null,
    hostname: typeof hostname === "string" ? hostname : null,
  };
}

export function assignmentView(assignment: Assignment): AssignmentView {
  const progress = RestoreProgressView.safeParse(assignment.progress);
  return { ...assignment, progress: progress.success ? progress.data : null };
}
