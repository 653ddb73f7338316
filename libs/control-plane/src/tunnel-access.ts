import type { IncomingMessage } from "node:http";
import { bearerOf } from "@devenv/api";
import type { AgentHub, TunnelAuthorization } from "@devenv/hub";
import type { Instance, Store, User } from "@devenv/store";

/**
 * Who may open a database tunnel: the owner of a personal instance, anyone for a shared
 * one, ops and admin for all. The bearer is read as the API reads it.
 */
export function tunnelAccess(store: Store, hub: AgentHub): (request: IncomingMessage, target: string) => Promise<TunnelAuthorization> {
  return async (request, target) => {
    const token = bearerOf(request.headers.authorization);
    const user = token ? await store.tokens.authenticate(token) : null;
    if (!user) return { ok: false, status: 401, message: "a valid API token is required (devenv login)" };
    const instance = await resolveInstance(store, user, target);
    const visible = instance && (instance.kind === "shared" || instance.ownerId === user.id || user.role !== "developer");
    if (!instance || !visible) return { ok: false, status: 404, message: noInstanceMessage(target) };
    if (instance.state !== "ready" && instance.state !== "refreshing") return { ok: false, status: 409, message: `instance ${instance.id} is ${instance.state}, not ready` };
    const agents = await store.agents.list({ instanceId: instance.id });
    const agent = agents.find((a) => hub.liveness(a.id) === "healthy") ?? agents[0];
    if (!agent) return { ok: false, status: 503, message: `instance ${instance.id} has no agent connected` };
    return { ok: true, agentId: agent.id };
  };
}

function noInstanceMessage(target: string): string {
  if (target === "shared") return "no shared instance is ready: ask ops for one (devenv up --shared)";
  if (target === "mine") return "you have no personal instance ready: start one with devenv up";
  return `no instance ${target} for you`;
}

/** `mine` and `shared` follow replacements: new connections reach whatever instance is current. */
async function resolveInstance(store: Store, user: User, target: string): Promise<Instance | undefined> {
  if (target === "mine" || target === "shared") {
    const candidates = await store.instances.list({ kind: target === "mine" ? "personal" : "shared", states: ["ready", "refreshing"], ...(target === "mine" ? { ownerId: user.id } : {}) });
    return candidates.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  }
  return store.instances.find(target);
}
