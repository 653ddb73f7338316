import { Command } from "commander";
import type { AgentView, FleetCostOutput, FleetOverviewOutput } from "@devenv/protocol";
import { CliError } from "../errors.ts";
import { formatBytes } from "../progress-line.ts";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi } from "./api-client.ts";
import { ago, formatTable, shortProgress } from "./api-client-views.ts";

const fleetExamples = `
Every live instance with its agent: lifecycle state, heartbeat liveness, Cassandra and
disk health, the snapshot it holds and the restore in flight. Needs the ops or admin role.

With --cost: instance-hours per owner and market (spot, on-demand, self-hosted) since a
day or for the last N days, so ops see who keeps hosts running and where spot saves.

Examples:
  $ devenv fleet
  $ devenv fleet --json | jq '.instances[] | select(.agent.liveness != "healthy") | .instance.id'
  $ devenv fleet --cost                     # the last 30 days
  $ devenv fleet --cost --since 7d
  $ devenv fleet --cost --since 2026-11-01 --json`;

export function fleetCommand(context: CommandContext): Command {
  return new Command("fleet")
    .description("ops: every instance and agent with state, health, snapshot and restore progress")
    .option("--cost", "instance-hours per owner and market instead of the overview")
    .option("--since <when>", "with --cost: the period's start, Nd (days ago) or an ISO date/instant", "30d")
    .option("--json", "print the overview (or the cost) as JSON")
    .addHelpText("after", fleetExamples)
    .action(async (flags: { cost?: boolean; since: string; json?: boolean }) => {
      const output = context.output(flags.json);
      // a bad --since is a usage error before anything is asked of the control plane
      const from = flags.cost ? periodStart(flags.since, new Date()) : undefined;
      const session = apiSession(context);
      if (from) {
        const cost = await callApi(session, () => session.client.fleet.cost.query({ from: from.toISOString() }));
        output.result(cost);
        for (const line of describeCost(cost)) output.line(line);
        return;
      }
      const overview = await callApi(session, () => session.client.fleet.overview.query());
      output.result(overview);
      for (const line of describeFleet(overview)) output.line(line);
    });
}

/** `7d` is seven days before now; otherwise an ISO date or instant. */
export function periodStart(since: string, now: Date): Date {
  const days = /^(\d{1,4})d$/.exec(since);
  if (days) return new Date(now.getTime() - Number(days[1]) * 86_400_000);
  const at = /^\d{4}-\d{2}-\d{2}$/.test(since) ? Date.parse(`${since}T00:00:00Z`) : Date.parse(since);
  if (!Number.isFinite(at) || !/^\d{4}-\d{2}-\d{2}/.test(since)) throw new CliError("usage", `--since: expected Nd (e.g. 7d) or an ISO date like 2026-11-01, got "${since}"`);
  if (at >= now.getTime()) throw new CliError("usage", `--since: ${since} is not in the past`);
  return new Date(at);
}

export function describeCost(cost: FleetCostOutput): string[] {
  const lines = [`instance-hours from ${cost.from} to ${cost.to}: ${cost.totalHours.toFixed(2)} in total`];
  if (cost.rows.length === 0) return [...lines, "no instance ran in this period"];
  const rows = [...cost.rows]
    .sort((a, b) => b.hours - a.hours)
    .map((r) => [r.ownerName ?? r.ownerId, r.market, String(r.instances), r.hours.toFixed(2)]);
  return [...lines, "", ...formatTable(["OWNER", "MARKET", "INSTANCES", "HOURS"], rows)];
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
