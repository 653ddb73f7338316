import { Command } from "commander";
import type { AgentView, FleetOverviewOutput } from "@devenv/protocol";
import { formatBytes } from "../progress-line.ts";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi } from "./api-client.ts";
import { ago, formatTable, shortProgress } from "./api-client-views.ts";

const fleetExamples = `
Every live instance with its agent: lifecycle state, heartbeat liveness, Cassandra and
disk health, the snapshot it holds and the restore in flight. Needs the ops or admin role.

Examples:
  $ devenv fleet
  $ devenv fleet --json | jq '.instances[] | select(.agent.liveness != "healthy") | .instance.id'`;

export function fleetCommand(context: CommandContext): Command {
  return new Command("fleet")
    .description("ops: every instance and agent with state, health, snapshot and restore progress")
    .option("--json", "print the overview as JSON")
    .addHelpText("after", fleetExamples)
    .action(async (flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      const overview = await callApi(session, () => session.client.fleet.overview.query());
      output.result(overview);
      for (const line of describeFleet(overview)) output.line(line);
    });
}

export function describeFleet(overview: FleetOverviewOutput, now = Date.now()): string[] {
  const counts = (figures: Record<string, number>) =>
    Object.entries(figures)
      .map(([key, n]) => `${n} ${key}`)
      .join(", ") || "none";
  const lines = [
    `instances: ${counts(overview.instancesByState)}`,
    `agents:    ${counts(overview.agentsByState)} (liveness: ${counts(overview.agentsByLiveness)}; versions: ${counts(overview.agentVersions)})`,
  ];
  if (overview.restoreBytesPerSecond > 0) lines.push(`restoring: ${formatBytes(overview.restoreBytesPerSecond)}/s in total`);
  if (overview.instances.length === 0) return lines;
  const rows = overview.instances.map(({ instance, agent, restore }) => [
    instance.id,
    instance.ownerId,
    instance.kind,
    instance.state,
    agent ? `${agent.state} (${agent.hostname ?? "?"} v${agent.version})` : "no agent",
    agent ? agent.liveness : "–",
    health(agent),
    instance.currentSnapshotId ?? (instance.snapshotId ? `→ ${instance.snapshotId}` : "–"),
    shortProgress(restore?.progress),
    agent?.lastHeartbeatAt ? ago(agent.lastHeartbeatAt, now) : "–",
  ]);
  return [...lines, "", ...formatTable(["INSTANCE", "OWNER", "KIND", "STATE", "AGENT", "LIVENESS", "HEALTH", "SNAPSHOT", "RESTORE", "HEARTBEAT"], rows)];
}

function health(agent: AgentView | null): string {
  const h = agent?.health;
  if (!h) return "–";
  const free = h.diskTotalBytes > 0 ? `, disk ${Math.round((h.diskFreeBytes / h.diskTotalBytes) * 100)}% free` : "";
  return `cassandra ${h.cassandra.reachable ? "up" : "down"}${free}, load ${h.load1.toFixed(1)}`;
}
