import type { AgentHub } from "@devenv/hub";
import type { SlackSettings } from "@devenv/api";
import { startTestServer, type ServerFixture } from "./harness.ts";

export interface OpsServerFixture extends ServerFixture {
  hub: AgentHub;
}

/** A test control plane whose fleet page polls fast, with Slack commands on when `slack` is given. */
export async function startOpsServer(options: { slack?: SlackSettings } = {}): Promise<OpsServerFixture> {
  const fixture = await startTestServer({ runtime: { ops: { fleet: { pollIntervalMs: 100, reauthenticateMs: 500 }, slack: options.slack } } });
  return Object.assign(fixture, { hub: fixture.plane.hub });
}
