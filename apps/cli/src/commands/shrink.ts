import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { auditSnapshot, loadRules, resolveSecret, rulesJsonSchema, shrinkSnapshot, planShrink, type TableSummary } from "@devenv/shrink";
import { connectCassandra, parseContactPoints, readKeyspaceSchema } from "@devenv/snapshot";
import { CliError } from "../errors.ts";
import type { CommandContext } from "../program.ts";
import { formatBytes } from "../progress-line.ts";
import { positiveInt } from "./options.ts";
import { openStoreOrFail, resolveSnapshot } from "./snapshot-location.ts";

export function shrinkCommand(context: CommandContext): Command {
  const shrink = new Command("shrink")
    .description("production keyspace -> dev-safe snapshot: drop customers' data, scrub PII, keep recent events, audit")
    .option("--rules <file>", "shrink rules (YAML); see examples/leads-rules.yaml")
    .addOption(new Option("--contact-points <host:port,...>", "the production (backup) Cassandra").env("DEVENV_CONTACT_POINTS").default("127.0.0.1:9042"))
    .addOption(new Option("--datacenter <name>", "local data center").env("DEVENV_DATACENTER").default("datacenter1"))
    .option("--keyspace <name>", "keyspace to shrink")
    .option("--to <store>", "directory or s3://bucket/prefix to publish the snapshot to")
    .option("--id <id>", "snapshot id (default: <keyspace>-dev-<UTC timestamp>)")
    .option("--org <id>", "keep exactly this organisation (to reproduce a customer's bug)")
    .option("--as-of <date>", "event tables keep the keepDays that end with this day (YYYY-MM-DD, UTC) or instant (ISO); default: now", parseAsOf)
    .option("--concurrency <n>", "token ranges scanned at once", positiveInt("--concurrency"), 4)
    .option("--chunks <n>", "fixed chunk count per table", positiveInt("--chunks"))
    .option("--json", "print the summary as JSON")
    .action(async (opts: ShrinkFlags) => {
      const output = context.output(opts.json);
      const rulesFile = required(opts.rules, "--rules");
      const keyspace = required(opts.keyspace, "--keyspace");
      const store = openStoreOrFail(required(opts.to, "--to"));
      const rules = await loadRules(rulesFile);
      const secret = await resolveSecret(rules, rulesFile, context.env);
      const client = await connectCassandra({ contactPoints: parseContactPoints(opts.contactPoints), localDataCenter: opts.datacenter });
      try {
        const result = await shrinkSnapshot({
          client,
          keyspace,
          rules,
          secret,
          store,
          snapshotId: opts.id,
          org: opts.org,
          asOf: opts.asOf,
          scanConcurrency: opts.concurrency,
          chunkCount: opts.chunks,
          onProgress: (p) =>
            output.progress(
              p.phase === "scan"
                ? `scan  ${p.chunksDone}/${p.chunksTotal ?? "?"} chunks  ${p.rowsDone.toLocaleString("en-US")} rows read  ${p.elapsedSeconds.toFixed(0)} s`
                : `${p.step ?? p.phase}  ${p.chunksDone}/${p.chunksTotal ?? "?"} chunks  ${p.elapsedSeconds.toFixed(0)} s`,
            ),
        });
        output.progressDone();
        output.result(result);
        output.line(
          `snapshot ${result.manifest.id}: kept ${result.keptOrgs} of ${Object.values(result.orgsByKind).reduce((a, b) => a + b, 0)} orgs, ` +
            `${result.manifest.totals.rows.toLocaleString("en-US")} rows, ${formatBytes(result.manifest.totals.bytes)} in ${store.location} (${result.seconds.toFixed(1)} s)`,
        );
        output.line(formatSummary(result.tables));
        output.line(`audit: ${result.audit.cellsScanned.toLocaleString("en-US")} cells scanned, no findings`);
      } finally {
        await client.shutdown();
      }
    });

  shrink
    .command("check")
    .description("check that a rules file covers every table and column of a keyspace (writes nothing)")
    .requiredOption("--rules <file>", "shrink rules (YAML)")
    .addOption(new Option("--contact-points <host:port,...>", "Cassandra").env("DEVENV_CONTACT_POINTS").default("127.0.0.1:9042"))
    .addOption(new Option("--datacenter <name>", "local data center").env("DEVENV_DATACENTER").default("datacenter1"))
    .requiredOption("--keyspace <name>", "keyspace the rules are for")
    .action(async (opts: { rules: string; contactPoints: string; datacenter: string; keyspace: string }) => {
      const rules = await loadRules(opts.rules);
      const client = await connectCassandra({ contactPoints: parseContactPoints(opts.contactPoints), localDataCenter: opts.datacenter });
      try {
        const plan = planShrink(rules, await readKeyspaceSchema(client, opts.keyspace));
        const kept = plan.tables.filter((t) => t.action === "keep").length;
        context.output().line(`${opts.rules} covers ${opts.keyspace}: ${kept} tables kept, ${plan.tables.length - kept} dropped`);
      } finally {
        await client.shutdown();
      }
    });

  shrink
    .command("audit")
    .description("scan every cell of a published snapshot for PII that is not a reserved fake")
    .argument("<from>", "snapshot: <store>/snapshots/<id>, or a store with --id")
    .option("--id <id>", "snapshot id inside the store")
    .option("--work-dir <dir>", "chunk cache (default: <cache-dir>/restore)")
    .option("--json", "print findings as JSON")
    .action(async (from: string, opts: { id?: string; workDir?: string; json?: boolean }) => {
      const output = context.output(opts.json);
      const { store, id } = await resolveSnapshot(from, opts.id);
      const report = await auditSnapshot(store, id, opts.workDir ?? join(context.config().cacheDir, "restore"));
      output.result(report);
      for (const f of report.findings) output.line(`${f.table}.${f.column} key=${f.rowKey}: ${f.kind} ${f.excerpt}`);
      if (report.findings.length > 0) throw new CliError("failed", `audit of ${id}: ${report.findings.length} finding(s)`);
      output.line(`audit of ${id}: ${report.cellsScanned.toLocaleString("en-US")} cells scanned, no findings`);
    });

  shrink
    .command("schema")
    .description("print the JSON Schema of the rules file (for editors)")
    .action(() => {
      process.stdout.write(`${JSON.stringify(rulesJsonSchema(), null, 2)}\n`);
    });

  return shrink;
}

interface ShrinkFlags {
  rules?: string;
  contactPoints: string;
  datacenter: string;
  keyspace?: string;
  to?: string;
  id?: string;
  org?: string;
  asOf?: Date;
  concurrency: number;
  chunks?: number;
  json?: boolean;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === "") throw new CliError("usage", `missing ${flag} (see --help)`);
  return value;
}

/** A day means its end: `--as-of 2026-11-25` keeps the events of the 25th too. */
function parseAsOf(value: string): Date {
  const day = /^\d{4}-\d{2}-\d{2}$/.test(value);
  const date = new Date(day ? `${value}T00:00:00Z` : value);
  if (day && !Number.isNaN(date.getTime())) date.setUTCDate(date.getUTCDate() + 1);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`--as-of must be a date like 2026-11-25 or an ISO timestamp, got "${value}"`);
  return date;
}

function formatSummary(tables: TableSummary[]): string {
  const header = `  ${"table".padEnd(18)} ${["read", "kept", "-org", "-time", "scrubbed"].map((h) => h.padStart(11)).join(" ")}`;
  const count = (n: number) => n.toLocaleString("en-US").padStart(11);
  const rows = tables.map(
    (t) =>
      `  ${t.table.padEnd(18)} ${t.action === "drop" ? "dropped".padStart(11) : count(t.rowsRead)} ` +
      [t.rowsKept, t.droppedByOrg, t.droppedByTime, t.cellsTransformed].map(count).join(" "),
  );
  return [header, ...rows].join("\n");
}


