import { Command, InvalidArgumentError } from "commander";
import { describeRoute, formatHostPort, useRoute, type UsedRoute } from "@devenv/forward";
import type { ForwardRoute, InstancesShowOutput } from "@devenv/protocol";
import type { z } from "zod";
import { CliError, toCliError } from "../errors.ts";
import type { Output } from "../output.ts";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi, tunnelRoute, type ApiSession } from "./api-client.ts";
import { formatRestoreProgress } from "./api-client-views.ts";
import { envListen, foregroundCommand } from "./forward.ts";

type InstanceShow = z.infer<typeof InstancesShowOutput>;

const upExamples = `
Waits until the database is ready, showing the host coming up and the restore's
progress, then points the local forward (127.0.0.1:9042) at it through the control
plane's tunnel. Exit code 1 when the instance fails, with the reason.

Examples:
  $ devenv up                              # an empty personal database
  $ devenv up --snapshot latest --ttl 8h   # the newest ready snapshot, ended after 8 hours
  $ devenv up --snapshot snap-2026-11-25 --no-wait --json | jq -r .instance.id
  $ devenv up --shared --snapshot latest   # a team host (ops and admin)`;

interface UpFlags {
  snapshot?: string;
  shared?: boolean;
  ttl?: number;
  wait: boolean;
  forward: boolean;
  timeout: number;
  json?: boolean;
}

export function upCommand(context: CommandContext): Command {
  return new Command("up")
    .description("start a database instance (personal by default), wait until it is ready, and point the forward at it")
    .option("--snapshot <id|latest>", "restore this snapshot (latest: the newest ready one); default an empty database")
    .option("--shared", "a shared team instance instead of a personal one (ops and admin)")
    .option("--ttl <hours>", "personal instances: end it after this long, e.g. 8h or 2d (default 12h)", ttlHours)
    .option("--no-wait", "return once the instance is requested")
    .option("--no-forward", "do not point the local forward at it")
    .option("--timeout <duration>", "give up waiting after this long, e.g. 45m (default 30m)", durationMs, 30 * 60_000)
    .option("--json", "print the result as JSON")
    .addHelpText("after", upExamples)
    .action(async (flags: UpFlags) => {
      const output = context.output(flags.json);
      if (flags.shared && flags.ttl !== undefined) throw new CliError("usage", "--ttl applies to personal instances only; shared ones live until ended");
      const session = apiSession(context);
      const snapshotId = flags.snapshot === "latest" ? await latestReadySnapshot(session) : flags.snapshot;
      const { instance, assignment, joinToken } = await callApi(session, () =>
        session.client.instances.up.mutate({ kind: flags.shared ? "shared" : "personal", snapshotId, ttlHours: flags.ttl }),
      );
      output.line(`instance ${instance.id} requested (${instance.kind}${snapshotId ? `, snapshot ${snapshotId}` : ", empty database"})`);
      // a static host without a standing token of its own is given this one by its operator
      if (joinToken) output.line(`host ${instance.providerId ?? "?"} joins with this one-time token (put it in its /etc/devenv/join-token): ${joinToken}`);
      if (!flags.wait) {
        output.result({ instance, assignment, route: null, ...(joinToken ? { joinToken } : {}) });
        output.line("`devenv status` follows it; `devenv use " + instance.id + "` points the forward at it once it is ready");
        return;
      }
      const ready = await followInstance(session, output, instance.id, { assignmentId: assignment?.id, timeoutMs: flags.timeout });
      output.line(`instance ${instance.id} is ready${ready.instance.currentSnapshotId ? ` with snapshot ${ready.instance.currentSnapshotId}` : ""}`);
      const route = tunnelRoute(session, instance.id);
      const used = flags.forward ? await pointForward(context, route, instance.id) : undefined;
      output.result({ instance: ready.instance, assignment: ready.latestAssignment, route: used ? used.route : null, listen: used?.status.listen ?? null });
      if (used) describeUse(output, used);
    });
}

/** The newest ready snapshot in the catalogue; `not-found` when there is none. */
export async function latestReadySnapshot(session: ApiSession): Promise<string> {
  const ready = await callApi(session, () => session.client.snapshots.list.query({ status: ["ready"] }));
  const newest = ready.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  if (!newest) throw new CliError("not-found", "no ready snapshot in the catalogue: `devenv snapshots create` makes one");
  return newest.id;
}

const pollMs = 500;
const finishedBadly = new Set(["failed", "cancelled"]);

/**
 * Polls the instance until it is ready (and the given assignment has succeeded), showing
 * each state once and the restore's progress as it moves: a rewritten bar on a terminal,
 * a line per change otherwise. A failed instance or restore is a `failed` CliError with
 * the control plane's reason.
 */
export async function followInstance(
  session: ApiSession,
  output: Output,
  instanceId: string,
  options: { assignmentId?: string; timeoutMs: number },
): Promise<InstanceShow> {
  const deadline = Date.now() + options.timeoutMs;
  let lastState = "";
  let lastProgress = "";
  for (;;) {
    const shown = await callApi(session, () => session.client.instances.show.query({ id: instanceId }));
    const { instance } = shown;
    const assignment = shown.latestAssignment && (options.assignmentId === undefined || shown.latestAssignment.id === options.assignmentId) ? shown.latestAssignment : null;
    const state = `${instance.state}${instance.stateDetail ? ` (${instance.stateDetail})` : ""}`;
    if (state !== lastState) {
      output.progressDone();
      output.progress(`state: ${state}`);
      output.progressDone();
      lastState = state;
    }
    if (assignment?.progress) {
      const line = formatRestoreProgress(assignment.progress);
      if (line !== lastProgress) output.progress(`restore ${line}`);
      lastProgress = line;
    }
    if (instance.state === "failed" || instance.state === "terminated" || instance.state === "draining") {
      output.progressDone();
      throw new CliError("failed", `instance ${instance.id} ${instance.state === "failed" ? "failed" : `is ${instance.state}`}: ${instance.stateDetail ?? assignment?.error ?? "no reason given"}`);
    }
    if (assignment && finishedBadly.has(assignment.state)) {
      output.progressDone();
      throw new CliError("failed", `restore of snapshot ${assignment.snapshotId} on instance ${instance.id} ${assignment.state}: ${assignment.error ?? "no reason given"}`);
    }
    const restored = options.assignmentId === undefined || assignment?.state === "succeeded";
    if (instance.state === "ready" && restored) {
      output.progressDone();
      return shown;
    }
    if (Date.now() > deadline) {
      output.progressDone();
      throw new CliError("unavailable", `instance ${instance.id} is still ${instance.state} after ${Math.round(options.timeoutMs / 1000)} s; \`devenv status\` follows it`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Points the forward (started in the background if needed) at the instance's tunnel. */
export async function pointForward(context: CommandContext, route: ForwardRoute, instanceId: string): Promise<UsedRoute> {
  const stateDir = context.config().stateDir;
  try {
    return await useRoute({ stateDir, route, check: true, command: foregroundCommand(stateDir, envListen(context.env), undefined), env: context.env });
  } catch (error) {
    const failure = toCliError(error);
    throw new CliError(failure.code, `instance ${instanceId} is ready, but the forward could not be pointed at it: ${failure.message}`, { cause: error });
  }
}

export function describeUse(output: Output, used: UsedRoute): void {
  const { listen } = used.status;
  const where = formatHostPort(listen.host, listen.port);
  if (used.started) output.line(`forward started on ${where} (pid ${used.status.pid})`);
  const was = used.previous ? `; open connections stay on ${describeRoute(used.previous)} until they close` : "";
  output.line(`${where} → ${describeRoute(used.route)}${was}`);
}

/** "8h", "2d" or a bare number of hours, for --ttl. */
function ttlHours(value: string): number {
  const match = /^(\d+)\s*(h|d)?$/.exec(value.trim());
  const hours = match ? Number(match[1]) * (match[2] === "d" ? 24 : 1) : NaN;
  if (!Number.isSafeInteger(hours) || hours < 1 || hours > 24 * 14) throw new InvalidArgumentError(`--ttl must be whole hours or days from 1h to 14d, e.g. 8h or 2d, got "${value}"`);
  return hours;
}

/** "90s", "45m", "2h". */
export function durationMs(value: string): number {
  const match = /^(\d+)\s*(s|m|h)$/.exec(value.trim());
  const ms = match ? Number(match[1]) * { s: 1_000, m: 60_000, h: 3_600_000 }[match[2] as "s" | "m" | "h"] : NaN;
  if (!Number.isSafeInteger(ms) || ms < 1_000) throw new InvalidArgumentError(`expected a duration like 90s, 45m or 2h, got "${value}"`);
  return ms;
}
