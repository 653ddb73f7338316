import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { InstanceManager } from "@devenv/fleet";
import type { Clock } from "@devenv/core";
import type { Store } from "@devenv/store";
import type { LivenessOf } from "./views.ts";

/** What routes beside the API (the fleet page, Slack commands) work with. */
export interface RoutesContext {
  store: Store;
  instances: InstanceManager;
  clock: Clock;
  logger: Logger;
  /** The hub's judgement of agents' heartbeats. */
  liveness: LivenessOf;
}

/** More HTTP routes: `handle` answers true when it took the request. */
export interface ExtraRoutes {
  handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean>;
  /** Ends long-lived responses (event streams) and background work at shutdown. */
  close?(): Promise<void>;
}
