import { Command } from "commander";
import { CliError } from "../errors.ts";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi, type ApiSession } from "./api-client.ts";
import { formatTable } from "./api-client-views.ts";
import { durationMs, followInstance, latestReadySnapshot } from "./up.ts";

const refreshExamples = `
Restores a snapshot (default: the newest ready one) on a running instance: the agent
downloads and verifies it first and only then replaces the database. Meanwhile the
instance shows as refreshing; the forward keeps pointing at it.

Examples:
  $ devenv refresh                          # your personal instance, newest snapshot
  $ devenv refresh 3f0c9a52-… --snapshot snap-2026-11-25
  $ devenv refresh --all                    # every ready personal instance you may refresh (ops: the fleet)`;

interface RefreshFlags {
  snapshot: string;
  all?: boolean;
  wait: boolean;
  timeout: number;
  json?: boolean;
}

export function refreshCommand(context: CommandContext): Command {
  return new Command("refresh")
    .description("put a newer snapshot on running instances (yours, or with --all every one you may)")
    .argument("[instance]", "the instance (default: your only ready personal instance)")
    .option("--snapshot <id|latest>", "the snapshot to restore", "latest")
    .option("--all", "every ready personal instance you may refresh (ops and admin: the whole fleet); does not wait")
    .option("--no-wait", "return once the restore is assigned")
    .option("--timeout <duration>", "give up waiting after this long, e.g. 45m (default 30m)", durationMs, 30 * 60_000)
    .option("--json", "print the result as JSON")
    .addHelpText("after", refreshExamples)
    .action(async (id: string | undefined, flags: RefreshFlags) => {
      const output = context.output(flags.json);
      if (flags.all && id !== undefined) throw new CliError("usage", "give an instance or --all, not both");
      const session = apiSession(context);
      const snapshotId = flags.snapshot === "latest" ? await latestReadySnapshot(session) : flags.snapshot;
      const targets = flags.all ? await readyPersonalInstances(session, undefined) : [id ?? (await onlyReadyInstance(session))];
      if (targets.length === 0) {
        output.result([]);
        output.line("no ready personal instance to refresh");
        return;
      }
      const assigned: { instanceId: string; assignmentId: string | null; delivered: boolean; error: string | null }[] = [];
      for (const instanceId of targets) {
        try {
          const { assignment, delivered } = await callApi(session, () => session.client.instances.assign.mutate({ id: instanceId, snapshotId }));
          assigned.push({ instanceId, assignmentId: assignment.id, delivered, error: null });
        } catch (error) {
          // one refused instance does not stop the others under --all
          if (!flags.all) throw error;
          assigned.push({ instanceId, assignmentId: null, delivered: false, error: (error as Error).message });
        }
      }
      if (flags.all || !flags.wait) {
        output.result({ snapshotId, assigned });
        const rows = assigned.map((a) => [a.instanceId, a.error ? "refused" : a.delivered ? "sent to agent" : "waiting for agent", a.error ?? ""]);
        output.line(`snapshot ${snapshotId} assigned to ${assigned.filter((a) => !a.error).length} of ${assigned.length} instances`);
        for (const line of formatTable(["INSTANCE", "ASSIGNMENT", "ERROR"], rows)) output.line(line);
        const failed = assigned.filter((a) => a.error);
        if (failed.length > 0) throw new CliError("failed", `${failed.length} of ${assigned.length} instances refused the refresh`);
        return;
      }
      const [only] = assigned;
      output.line(`restoring snapshot ${snapshotId} on instance ${only!.instanceId}`);
      const shown = await followInstance(session, output, only!.instanceId, { assignmentId: only!.assignmentId!, timeoutMs: flags.timeout });
      output.result({ snapshotId, instance: shown.instance, assignment: shown.latestAssignment });
      output.line(`instance ${shown.instance.id} is ready with snapshot ${shown.instance.currentSnapshotId ?? snapshotId}`);
    });
}

async function readyPersonalInstances(session: ApiSession, ownerId: string | undefined): Promise<string[]> {
  const ready = await callApi(session, () => session.client.instances.list.query({ ownerId, kind: "personal", states: ["ready"], limit: 1000 }));
  return ready.map((i) => i.id);
}

async function onlyReadyInstance(session: ApiSession): Promise<string> {
  const who = await callApi(session, () => session.client.auth.whoami.query());
  const ready = await readyPersonalInstances(session, who.user.id);
  if (ready.length === 0) throw new CliError("not-found", "you have no ready personal instance to refresh (`devenv ls` lists yours)");
  if (ready.length > 1) throw new CliError("usage", `you have ${ready.length} ready personal instances (${ready.join(", ")}): name the one to refresh`);
  return ready[0]!;
}
