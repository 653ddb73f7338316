import { Command, InvalidArgumentError, Option } from "commander";
import { generateDataset, generateDefaults, leadsTables, type GenerateProgress, type GenerateResult } from "@devenv/fixtures";
import { connectCassandra, parseContactPoints } from "@devenv/snapshot";
import type { CommandContext } from "../program.ts";
import { positiveInt } from "./options.ts";

export function generateCommand(context: CommandContext): Command {
  return new Command("generate")
    .description("create a keyspace holding a production-like multi-tenant lead-management dataset (deterministic for a seed)")
    .addOption(new Option("--contact-points <host:port,...>", "Cassandra to write to").env("DEVENV_CONTACT_POINTS").default("127.0.0.1:9042"))
    .addOption(new Option("--datacenter <name>", "local data center of the contact points").env("DEVENV_DATACENTER").default("datacenter1"))
    .requiredOption("--keyspace <name>", "keyspace to create (it must not exist, see --drop-existing)")
    .option("--orgs <n>", "organisations (about 80% customer, 15% sandbox, 5% internal)", positiveInt("--orgs", 999_999), generateDefaults.orgs)
    .option("--leads-per-org <n>", "leads of each org", positiveInt("--leads-per-org"), generateDefaults.leadsPerOrg)
    .option("--days <n>", "days of events, ending with --as-of", positiveInt("--days", 3650), generateDefaults.days)
    .option("--events-per-day <n>", "events of each org per day", positiveInt("--events-per-day"), generateDefaults.eventsPerDay)
    .option("--seed <seed>", "same seed and arguments, same data", generateDefaults.seed)
    .option("--as-of <date>", "last day of events, YYYY-MM-DD (default: today, UTC)", parseDay)
    .option("--replication <cql-map>", "replication of the new keyspace", generateDefaults.replication)
    .option("--drop-existing", "drop the keyspace first when it exists")
    .option("--concurrency <n>", "requests in flight against Cassandra", positiveInt("--concurrency", 4096), generateDefaults.concurrency)
    .option("--json", "print the result as JSON")
    .action(async (opts: GenerateFlags) => {
      const output = context.output(opts.json);
      const client = await connectCassandra({
        contactPoints: parseContactPoints(opts.contactPoints),
        localDataCenter: opts.datacenter,
        connectionsPerHost: 4,
      });
      try {
        const result = await generateDataset(
          client,
          {
            keyspace: opts.keyspace,
            orgs: opts.orgs,
            leadsPerOrg: opts.leadsPerOrg,
            days: opts.days,
            eventsPerDay: opts.eventsPerDay,
            seed: opts.seed,
            asOf: opts.asOf,
            replication: opts.replication,
            dropExisting: opts.dropExisting,
            concurrency: opts.concurrency,
          },
          (p) => output.progress(formatGenerateProgress(p, opts.keyspace)),
        );
        output.progressDone();
        output.result(result);
        for (const line of formatSummary(result)) output.line(line);
      } finally {
        await client.shutdown();
      }
    });
}

interface GenerateFlags {
  contactPoints: string;
  datacenter: string;
  keyspace: string;
  orgs: number;
  leadsPerOrg: number;
  days: number;
  eventsPerDay: number;
  seed: string;
  asOf?: string;
  replication: string;
  dropExisting?: boolean;
  concurrency: number;
  json?: boolean;
}

function parseDay(value: string): string {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new InvalidArgumentError(`--as-of must be a date like 2026-11-25, got "${value}"`);
  }
  return value;
}

function formatGenerateProgress(p: GenerateProgress, keyspace: string, width = 24): string {
  if (p.phase === "schema") return `schema    creating keyspace ${keyspace}`;
  const fraction = p.orgsTotal > 0 ? p.orgsDone / p.orgsTotal : 0;
  const filled = Math.round(fraction * width);
  const parts = [
    p.phase === "done" ? "done    " : "write   ",
    `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`,
    `${p.orgsDone}/${p.orgsTotal} orgs`,
    `${p.rowsDone.toLocaleString("en-US")} rows`,
  ];
  if (p.writeSeconds > 0.5) {
    const rate = p.rowsDone / p.writeSeconds;
    parts.push(`${Math.round(rate).toLocaleString("en-US")} rows/s`);
    if (p.rowsEstimate !== undefined && rate > 0 && p.rowsDone < p.rowsEstimate) parts.push(`ETA ${Math.ceil((p.rowsEstimate - p.rowsDone) / rate)} s`);
  }
  return parts.join("  ");
}

function formatSummary(r: GenerateResult): string[] {
  const kinds = ["customer", "sandbox", "internal"].map((kind) => `${r.orgList.filter((o) => o.kind === kind).length} ${kind}`);
  return [
    `generated keyspace ${r.keyspace}: ${r.orgs} orgs (${kinds.join(", ")}), seed ${r.seed}, events ${r.days} days to ${r.asOf}`,
    ...leadsTables.map((table) => `  ${table.padEnd(16)} ${r.tables[table].toLocaleString("en-US").padStart(12)}`),
    `  ${"total".padEnd(16)} ${r.totalRows.toLocaleString("en-US").padStart(12)} rows in ${r.seconds.toFixed(1)} s ` +
      `(${Math.round(r.rowsPerSecond).toLocaleString("en-US")} rows/s while writing${r.retries > 0 ? `, ${r.retries} writes retried` : ""})`,
  ];
}
