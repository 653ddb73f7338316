// npm run bench:shrink -- [options]: the cost of the shrink rules, measured against a
// plain export of the same keyspace and against cqlsh COPY TO, on generated data.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateDataset, leadsTables } from "@devenv/shrink";
import { connectCassandra } from "@devenv/snapshot";
import { benchCassandra } from "./bench-cassandra.ts";
import { preparePeers } from "./bench-peers.ts";
import { runTimed, type TimedRun } from "./timed-process.ts";

const usage = `usage: npm run bench:shrink -- [options]
  --orgs N               organisations to generate (default 200)
  --leads-per-org N      (default 500)
  --days N               days of events (default 30; the rules keep 7)
  --events-per-day N     events per org and day (default 100)
  --repeat N             runs of each tool; the table shows the median (default 1)
  --contact-points H:P   reuse this Cassandra instead of starting one
  --heap SIZE            heap of the node the bench starts (default 1G)
  --results-dir DIR      where shrink-<date>.md goes (default test/bench/results)
  --no-install           do not run scripts/install-bench-peers.sh first
defaults give about 1,000,000 source rows`;

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const asOfDay = "2026-11-25";

const args = (() => {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        orgs: { type: "string", default: "200" },
        "leads-per-org": { type: "string", default: "500" },
        days: { type: "string", default: "30" },
        "events-per-day": { type: "string", default: "100" },
        repeat: { type: "string", default: "1" },
        "contact-points": { type: "string" },
        heap: { type: "string", default: "1G" },
        "results-dir": { type: "string", default: join(repoRoot, "test/bench/results") },
        "no-install": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    const count = (flag: "orgs" | "leads-per-org" | "days" | "events-per-day" | "repeat") => {
      const n = Number(values[flag]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got "${values[flag]}"`);
      return n;
    };
    return {
      orgs: count("orgs"),
      leadsPerOrg: count("leads-per-org"),
      days: count("days"),
      eventsPerDay: count("events-per-day"),
      repeat: count("repeat"),
      contactPoint: values["contact-points"],
      heap: values.heap,
      resultsDir: values["results-dir"],
      install: !values["no-install"],
    };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
})();

interface Outcome {
  tool: string;
  runs: TimedRun[];
}

const cacheDir = process.env.DEVENV_CACHE_DIR ?? join(homedir(), ".cache/devenv");
const work = mkdtempSync(join(tmpdir(), "devenv-bench-shrink-"));
const node = await benchCassandra({ contactPoint: args.contactPoint, localDataCenter: "datacenter1", heap: args.heap, cacheDir, log });
const keyspace = `bench_shrink_${Date.now().toString(36)}`;
const client = await connectCassandra({ contactPoints: [node.contactPoint], localDataCenter: node.localDataCenter });
try {
  const peers = await preparePeers(repoRoot, { install: args.install, cacheDir, log });
  log(`generating ${keyspace}: ${args.orgs} orgs × ${args.leadsPerOrg} leads, ${args.days} days × ${args.eventsPerDay} events…`);
  const generated = await generateDataset(client, {
    keyspace,
    orgs: args.orgs,
    leadsPerOrg: args.leadsPerOrg,
    days: args.days,
    eventsPerDay: args.eventsPerDay,
    asOf: asOfDay,
    seed: "bench",
  });
  const sourceRows = generated.totalRows;
  log(`generated ${sourceRows.toLocaleString("en-US")} rows in ${generated.seconds.toFixed(0)} s; flushing memtables is left to Cassandra`);

  const devenv = join(repoRoot, "apps/cli/bin/devenv");
  const [host, port] = node.contactPoint.split(":") as [string, string];
  const tools: { tool: string; command: string; args: (run: number) => string[]; env?: NodeJS.ProcessEnv }[] = [
    {
      tool: "devenv snapshot export (no rules)",
      command: devenv,
      args: (run) => ["snapshot", "export", "--contact-points", node.contactPoint, "--keyspace", keyspace, "--to", join(work, `export-${run}`)],
    },
    {
      tool: "devenv shrink (rules + audit)",
      command: devenv,
      args: (run) => ["shrink", "--rules", join(repoRoot, "examples/leads-rules.yaml"), "--contact-points", node.contactPoint, "--keyspace", keyspace, "--to", join(work, `shrink-${run}`), "--as-of", asOfDay],
      env: { ...process.env, DEVENV_SHRINK_SECRET: "bench-secret-0123456789abcdef0123" },
    },
  ];
  if ("bin" in peers.cqlsh) {
    const bin = peers.cqlsh.bin;
    tools.push({
      tool: "cqlsh COPY TO (CSV)",
      command: bin,
      args: (run) => {
        const dir = join(work, `cqlsh-${run}`);
        mkdirSync(dir, { recursive: true });
        const copies = leadsTables.map((t) => `COPY ${keyspace}.${t} TO '${join(dir, `${t}.csv`)}' WITH HEADER = true AND NUMPROCESSES = ${availableParallelism()};`);
        return [host, port, `--cqlshrc=${join(work, "cqlshrc")}`, "--request-timeout=600", "--connect-timeout=60", "-e", copies.join("\n")];
      },
    });
  } else {
    log(`cqlsh unavailable: ${peers.cqlsh.unavailable}`);
  }

  const outcomes: Outcome[] = tools.map((t) => ({ tool: t.tool, runs: [] }));
  for (let run = 1; run <= args.repeat; run++) {
    for (const [i, tool] of tools.entries()) {
      log(`run ${run}/${args.repeat}: ${tool.tool}…`);
      const result = await runTimed({ command: tool.command, args: tool.args(run), env: tool.env, logFile: join(work, "tools.log"), timeoutMs: 60 * 60_000 });
      if (result.exitCode !== 0) throw new Error(`${tool.tool} failed (exit ${result.exitCode}):\n${result.stderrTail}`);
      log(`  ${result.seconds.toFixed(1)} s, peak RSS ${mib(result.usage.peakTreeRssBytes)} MiB`);
      outcomes[i]!.runs.push(result);
      rmSync(join(work, `export-${run}`), { recursive: true, force: true });
    }
  }

  const median = (o: Outcome) => [...o.runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(o.runs.length / 2)]!;
  const exportSeconds = median(outcomes[0]!).seconds;
  // CPU seconds of our process tree: a fairer measure than wall time on a busy machine
  const exportCpu = median(outcomes[0]!).usage.cpuSeconds;
  const lines = [
    `# bench:shrink ${new Date().toISOString().slice(0, 10)}`,
    "",
    `Source: \`devenv generate\` lead-management keyspace, ${sourceRows.toLocaleString("en-US")} rows (${args.orgs} orgs × ${args.leadsPerOrg} leads, ${args.days} days × ${args.eventsPerDay} events), ` +
      `rules examples/leads-rules.yaml (customers dropped, events kept 7 days), ${availableParallelism()} cores, Cassandra ${node.releaseVersion ?? "(reused node)"}, median of ${args.repeat}.`,
    "Rows/s are source rows read per wall second, process start-up included; RSS is the peak of the whole process tree.",
    "",
    "| tool | seconds | source rows/s | CPU s | peak RSS MiB | time vs plain export | CPU vs plain export |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...outcomes.map((o) => {
      const m = median(o);
      return (
        `| ${o.tool} | ${m.seconds.toFixed(1)} | ${Math.round(sourceRows / m.seconds).toLocaleString("en-US")} | ${m.usage.cpuSeconds.toFixed(1)} | ` +
        `${mib(m.usage.peakTreeRssBytes)} | ${(m.seconds / exportSeconds).toFixed(2)}× | ${(m.usage.cpuSeconds / exportCpu).toFixed(2)}× |`
      );
    }),
    "",
    `Rules cost over plain export: ${((median(outcomes[1]!).seconds / exportSeconds - 1) * 100).toFixed(0)}% wall time, ` +
      `${((median(outcomes[1]!).usage.cpuSeconds / exportCpu - 1) * 100).toFixed(0)}% CPU (target < 30%); ` +
      `shrink peak RSS ${mib(median(outcomes[1]!).usage.peakTreeRssBytes)} MiB (target < 256).`,
    "",
    `Command: npm run bench:shrink -- ${process.argv.slice(2).join(" ")}`.trimEnd(),
  ];
  const report = lines.join("\n");
  mkdirSync(args.resultsDir, { recursive: true });
  const file = join(args.resultsDir, `shrink-${new Date().toISOString().slice(0, 10)}.md`);
  writeFileSync(file, `${report}\n`);
  process.stdout.write(`\n${report}\n\nreport: ${file}\n`);
} catch (error) {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
  await client.shutdown();
  await node.stop();
  rmSync(work, { recursive: true, force: true });
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
