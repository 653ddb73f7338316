import { resolve } from "node:path";
import { Command } from "commander";
import { ShrinkJobPayload, type SnapshotView } from "@devenv/protocol";
import { CliError } from "../errors.ts";
import { formatBytes } from "../progress-line.ts";
import type { CommandContext } from "../program.ts";
import { apiSession, callApi } from "./api-client.ts";
import { ago, formatTable } from "./api-client-views.ts";
import { failIfUnsuccessful, followJob } from "./jobs.ts";
import { positiveInt } from "./options.ts";

const snapshotsExamples = `
The control plane's catalogue of snapshots (\`devenv snapshot\`, singular, works on a
snapshot store directly).

Examples:
  $ devenv snapshots ls
  $ devenv snapshots show snap-2026-11-25
  $ devenv snapshots create --source-keyspace leads --rules /etc/devenv/leads-rules.yaml --wait
  $ devenv snapshots create --source-keyspace leads --rules rules.yaml --org org-000007
  $ devenv snapshots pin snap-2026-11-25`;

export function snapshotsCommand(context: CommandContext): Command {
  const snapshots = new Command("snapshots").description("the control plane's snapshot catalogue: list, inspect, make, pin, delete").addHelpText("after", snapshotsExamples);

  snapshots
    .command("ls")
    .description("snapshots in the catalogue, newest first")
    .option("--all", "deleted ones too")
    .option("--pinned", "pinned ones only")
    .option("--json", "print the snapshots as JSON")
    .addHelpText("after", "\nExamples:\n  $ devenv snapshots ls\n  $ devenv snapshots ls --json | jq -r 'map(select(.status == \"ready\"))[0].id'")
    .action(async (flags: { all?: boolean; pinned?: boolean; json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      const list = await callApi(session, () =>
        session.client.snapshots.list.query({ status: flags.all ? ["building", "ready", "failed", "deleted"] : undefined, pinned: flags.pinned ? true : undefined, limit: 1000 }),
      );
      const sorted = list.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      output.result(sorted);
      if (sorted.length === 0) {
        output.line("no snapshots: `devenv snapshots create` makes one");
        return;
      }
      const now = Date.now();
      const rows = sorted.map((s) => [s.id, s.status, s.pinned ? "yes" : "", formatBytes(s.sizeBytes), s.rows.toLocaleString("en-US"), String(s.tablesCount), ago(s.createdAt, now), s.sourceDescription]);
      for (const line of formatTable(["ID", "STATUS", "PINNED", "SIZE", "ROWS", "TABLES", "CREATED", "SOURCE"], rows)) output.line(line);
    });

  snapshots
    .command("show")
    .description("one snapshot and the instances using it")
    .argument("<snapshot>", "the snapshot id")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExamples:\n  $ devenv snapshots show snap-2026-11-25")
    .action(async (id: string, flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      const shown = await callApi(session, () => session.client.snapshots.show.query({ id }));
      output.result(shown);
      for (const line of describeSnapshot(shown.snapshot)) output.line(line);
      if (shown.usedBy.length === 0) {
        output.line("used by:   no live instance");
        return;
      }
      output.line("used by:");
      for (const line of formatTable(["  INSTANCE", "OWNER", "KIND", "STATE"], shown.usedBy.map((i) => [`  ${i.id}`, i.ownerId, i.kind, i.state]))) output.line(line);
    });

  snapshots
    .command("create")
    .description("make a new snapshot: a shrink job on the control plane reads the source keyspace, scrubs it by the rules and publishes it")
    .option("--source <name>", "a source the control plane's config names (default: its first one)")
    .option("--source-keyspace <keyspace>", "instead of a configured source: the production (restored backup) keyspace to shrink")
    .option("--rules <file>", "with --source-keyspace: the shrink rules YAML, as a path on the control plane's host (made absolute here)")
    .option("--contact-points <hosts>", "the source cluster as the job runner reaches it, comma-separated host:port", "127.0.0.1:9042")
    .option("--local-dc <name>", "the source cluster's local data center", "datacenter1")
    .option("--org <id>", "keep exactly this organisation (reproduce one customer's case)")
    .option("--as-of <instant>", "ISO instant that event tables' keepDays count back from (default: when the job runs)")
    .option("--id <snapshot-id>", "the new snapshot's id (default: made up by the job)")
    .option("--tasks <n>", "token-range tasks the scan is split into; any job runner (any replica) takes them (default 4)", positiveInt("--tasks", 256))
    .option("--wait", "follow the job's log until the snapshot is published (exit 1 if it fails)")
    .option("--json", "print the result as JSON")
    .addHelpText(
      "after",
      `
The pseudonym secret is never sent: the rules name where the job runner reads it (an env
variable or a file on its host). Needs the ops or admin role.

Examples:
  $ devenv snapshots create --wait                       # the first source of the server's config
  $ devenv snapshots create --source production --org org-000007
  $ devenv snapshots create --source-keyspace leads --rules /srv/devenv/leads-rules.yaml --wait
  $ devenv snapshots create --source-keyspace leads --rules rules.yaml --org org-000007 --json | jq -r .job.id`,
    )
    .action(async (flags: { source?: string; sourceKeyspace?: string; rules?: string; contactPoints: string; localDc: string; org?: string; asOf?: string; id?: string; tasks?: number; wait?: boolean; json?: boolean }) => {
      const output = context.output(flags.json);
      const explicit = flags.sourceKeyspace !== undefined || flags.rules !== undefined;
      if (explicit && flags.source !== undefined) throw new CliError("usage", "--source names a configured source; give it, or --source-keyspace with --rules, not both");
      if (explicit && (flags.sourceKeyspace === undefined || flags.rules === undefined)) throw new CliError("usage", "--source-keyspace and --rules go together");
      const request = explicit ? { shrink: explicitShrink(flags) } : { configured: { source: flags.source, org: flags.org, asOf: flags.asOf, snapshotId: flags.id, tasks: flags.tasks } };
      const session = apiSession(context);
      const { job } = await callApi(session, () => session.client.snapshots.create.mutate(request));
      output.line(`shrink job ${job.id} queued; \`devenv jobs logs ${job.id} --follow\` shows it`);
      if (!flags.wait) {
        output.result({ job, snapshotId: null });
        return;
      }
      const shown = await followJob(session, output, job.id);
      const snapshotId = snapshotIdOf(shown.job.result);
      output.result({ job: shown.job, snapshotId });
      failIfUnsuccessful(shown.job);
      if (snapshotId) output.line(`snapshot ${snapshotId} is ready: \`devenv up --snapshot ${snapshotId}\``);
    });

  for (const [name, description, verb] of [
    ["delete", "remove a snapshot from the catalogue (refused while pinned or used by an instance; admin)", "deleted"],
    ["pin", "keep a snapshot: pinned ones are never cleaned up or deleted (ops, admin)", "pinned"],
    ["unpin", "let a snapshot be cleaned up again (ops, admin)", "unpinned"],
  ] as const) {
    snapshots
      .command(name)
      .description(description)
      .argument("<snapshot>", "the snapshot id")
      .option("--json", "print the snapshot as JSON")
      .addHelpText("after", `\nExamples:\n  $ devenv snapshots ${name} snap-2026-11-25`)
      .action(async (id: string, flags: { json?: boolean }) => {
        const output = context.output(flags.json);
        const session = apiSession(context);
        const procedure = session.client.snapshots[name];
        const snapshot = await callApi(session, () => procedure.mutate({ id }));
        output.result(snapshot);
        output.line(`snapshot ${snapshot.id} ${verb}`);
      });
  }

  return snapshots;
}

function describeSnapshot(s: SnapshotView): string[] {
  return [
    `snapshot:  ${s.id}`,
    `status:    ${s.status}${s.pinned ? ", pinned" : ""}`,
    `created:   ${s.createdAt} (${ago(s.createdAt)})`,
    `size:      ${formatBytes(s.sizeBytes)}, ${s.rows.toLocaleString("en-US")} rows in ${s.tablesCount} tables`,
    `source:    ${s.sourceDescription}`,
    `rules:     ${s.rulesDigest ?? "–"}`,
    `location:  ${s.location}`,
  ];
}

/** A shrink job's result names the snapshot it published. */
function snapshotIdOf(result: unknown): string | null {
  if (result !== null && typeof result === "object" && "snapshotId" in result && typeof result.snapshotId === "string") return result.snapshotId;
  return null;
}

/** A shrink of a keyspace and rules file given on the command line, checked before it is sent. */
function explicitShrink(flags: { sourceKeyspace?: string; rules?: string; contactPoints: string; localDc: string; org?: string; asOf?: string; id?: string; tasks?: number }): ShrinkJobPayload {
  const shrink = ShrinkJobPayload.safeParse({
    source: { contactPoints: flags.contactPoints.split(",").map((p) => p.trim()).filter((p) => p !== ""), localDataCenter: flags.localDc, keyspace: flags.sourceKeyspace },
    rulesFile: resolve(flags.rules ?? ""),
    org: flags.org,
    asOf: flags.asOf,
    snapshotId: flags.id,
    tasks: flags.tasks,
  });
  if (shrink.success) return shrink.data;
  const issue = shrink.error.issues[0];
  const flag = { source: "--source-keyspace/--contact-points/--local-dc", rulesFile: "--rules", org: "--org", asOf: "--as-of", snapshotId: "--id", tasks: "--tasks" }[String(issue?.path[0])] ?? "input";
  throw new CliError("usage", `${flag}: ${issue?.path.slice(1).join(".") || ""}${issue?.path.length && issue.path.length > 1 ? " " : ""}${issue?.message}`);
}
