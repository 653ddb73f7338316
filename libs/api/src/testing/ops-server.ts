import { AgentHub, StoreHubBackend } from "@devenv/hub";
import type { SlackSettings } from "../slack/slack-routes.ts";
import { opsRoutes } from "../web/ops-routes.ts";
import { startTestServer, type ServerFixture } from "./harness.ts";

export interface OpsServerFixture extends ServerFixture {
  hub: AgentHub;
  /** ws://…/agent, where TestAgents connect. */
  agentUrl: string;
}

/**
 * A control plane with a real agent hub over its store (agents' reports become catalogue
 * facts, assignments reach agents) and the fleet page and Slack routes, polling fast.
 */
export async function startOpsServer(options: { slack?: SlackSettings } = {}): Promise<OpsServerFixture> {
  let hub: AgentHub | undefined;
  const fixture = await startTestServer({
    extra: {
      attach: async (server, { store, instances }) => {
        const started = new AgentHub({ server, backend: new StoreHubBackend({ store }), heartbeatIntervalMs: 500 });
        await started.start();
        started.on("agent-connected", ({ agentId }) => {
          void store.agents.get(agentId).then((agent) => instances.dispatchPending(agent.instanceId));
        });
        hub = started;
        return { commands: started, liveness: (agentId) => started.liveness(agentId), close: () => started.close() };
      },
      extraRoutes: (context) => opsRoutes(context, { fleet: { pollIntervalMs: 100, reauthenticateMs: 500 }, slack: options.slack }),
    },
  });
  return Object.assign(fixture, { hub: hub!, agentUrl: `${fixture.plane.url.replace(/^http/, "ws")}/agent` });
}
