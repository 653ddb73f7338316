import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { AgentHub } from "../agent-hub.ts";
import type { AgentHubOptions, HubEvents } from "../agent-hub.ts";
import { InMemoryHubBackend } from "../in-memory-backend.ts";
import { ManualClock } from "@devenv/core/testing";

export interface RunningHub {
  hub: AgentHub;
  server: Server;
  backend: InMemoryHubBackend;
  clock: ManualClock;
  /** ws://127.0.0.1:PORT/agent */
  url: string;
  stop(): Promise<void>;
}

/**
 * A hub on its own loopback HTTP server, with a manual clock and an in-memory backend
 * unless given others (several hubs may share one backend, like replicas share a store).
 */
export async function startTestHub(options: Partial<AgentHubOptions> & { backend?: InMemoryHubBackend; clock?: ManualClock } = {}): Promise<RunningHub> {
  const clock = options.clock ?? new ManualClock();
  const backend = options.backend ?? new InMemoryHubBackend({ now: () => clock.now() });
  const server = createServer((_request, response) => response.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const hub = new AgentHub({ ...options, server, backend, clock });
  await hub.start();
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    server,
    backend,
    clock,
    url: `ws://127.0.0.1:${port}${hub.path}`,
    async stop() {
      await hub.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves with the next `name` event that matches, or rejects after `timeoutMs`. */
export function nextEvent<K extends keyof HubEvents>(
  hub: AgentHub,
  name: K,
  predicate: (...args: HubEvents[K]) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<HubEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const listener = (...args: HubEvents[K]) => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      hub.off(name, listener as never);
      resolve(args[0]);
    };
    const timer = setTimeout(() => {
      hub.off(name, listener as never);
      reject(new Error(`no ${String(name)} event within ${timeoutMs} ms`));
    }, timeoutMs);
    hub.on(name, listener as never);
  });
}
