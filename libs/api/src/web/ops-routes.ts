import type { ExtraRoutes, RoutesContext } from "../routes-context.ts";
import { slackRoutes, type SlackSettings } from "../slack/slack-routes.ts";
import { fleetRoutes, type FleetRoutesOptions } from "./fleet-routes.ts";

export type { FleetRoutesOptions };

export interface OpsRoutesOptions {
  fleet?: FleetRoutesOptions;
  /** Undefined: /slack/commands answers 503 (not configured). See slackSettingsFromEnv. */
  slack?: SlackSettings;
}

/**
 * The fleet page and Slack commands as one `extraRoutes` for startControlPlane:
 * `extraRoutes: (context) => opsRoutes(context, { slack: slackSettingsFromEnv(process.env) })`.
 */
export function opsRoutes(context: RoutesContext, options: OpsRoutesOptions = {}): ExtraRoutes {
  const parts = [fleetRoutes(context, options.fleet), slackRoutes(context, options.slack)];
  return {
    async handle(request, response, path) {
      for (const part of parts) if (await part.handle(request, response, path)) return true;
      return false;
    },
    async close() {
      await Promise.all(parts.map((part) => part.close?.()));
    },
  };
}
