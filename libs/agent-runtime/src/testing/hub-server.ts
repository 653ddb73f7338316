import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { AgentHub, InMemoryHubBackend } from "@devenv/hub";
import type { HubEvents } from "@devenv/hub";

export interface HubServer {
  hub: AgentHub;
  backend: InMemoryHubBackend;
  port: number;
  url: string;
  /** Every event the hub emitted, in order, for assertions. */
  events: { name: keyof HubEvents; payload: unknown }[];
  stop(): Promise<void>;
}

const recorded: (keyof HubEvents)[] = [
  "agent-connected",
  "agent-disconnected",
  "agent-lifecycle",
  "agent-progress",
  "agent-result",
  "agent-interruption",
  "agent-health",
  "command-acked",
  "tunnel-data",
];

/**
 * The control plane's real agent hub on a loopback HTTP server with the real clock.
 * Give `port` and the `backend` of a stopped one to restart "the control plane" where
 * agents expect it.
 */
export async function startHubServer(options: { backend?: InMemoryHubBackend; port?: number; heartbeatIntervalMs?: number } = {}): Promise<HubServer> {
  const backend = options.backend ?? new InMemoryHubBackend();
  const server = createServer((_request, response) => response.writeHead(404).end());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const hub = new AgentHub({ server, backend, heartbeatIntervalMs: options.heartbeatIntervalMs ?? 500 });
  await hub.start();
  const events: HubServer["events"] = [];
  for (const name of recorded) hub.on(name, ((payload: unknown) => events.push({ name, payload })) as never);
  const port = (server.address() as AddressInfo).port;
  return {
    hub,
    backend,
    port,
    url: `ws://127.0.0.1:${port}${hub.path}`,
    events,
    async stop() {
      await hub.close({ reconnectAfterMs: 0 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
