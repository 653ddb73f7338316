// npm run bench:shrink -- [options]: the cost of the shrink rules, measured against a
// plain export of the same keyspace and against cqlsh COPY TO, on generated data.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, homedir, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateDataset, leadsTables } from "@devenv/fixtures";
import { connectCassandra } from "@devenv/snapshot";
import { benchCassandra } from "./bench-cassandra.ts";
import { preparePeers } from "./bench-peers.ts";
import { runTimed, type TimedRun } from "./timed-process.ts";

const usage = `usage: npm run bench:shrink -- [options]
  --orgs N[,N...]        organisations to generate (default 200); several sizes: one keyspace
                         and one table each, then peak RSS by size
  --leads-per-org N      (default 500)
  --days N               days of events (default 30; the rules keep 7)
  --events-per-day N     events per org and day (default 100)
  --repeat N             runs of each tool; the table shows the median (default 1)
  --contact-points H:P   reuse this Cassandra instead of starting one
  --heap SIZE            heap of the node the bench starts (default 1G)
  --results-dir DIR      where shrink-<date>.md goes (default test/bench/results; then -2, -3…)
  --no-cqlsh             leave cqlsh COPY TO out
  --no-install           do not run scripts/install-bench-peers.sh first
defaults give about 1,000,000 source rows (5,100 a org)`;

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
        "no-cqlsh": { type: "boolean", default: false },
        "no-install": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    const positive = (flag: string, text: string) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got "${text}"`);
      return n;
    };
    const count = (flag: "leads-per-org" | "days" | "events-per-day" | "repeat") => positive(flag, values[flag]);
    return {
      orgs: values.orgs.split(",").map((n) => positive("orgs", n.trim())),
      leadsPerOrg: count("leads-per-org"),
      days: count("days"),
      eventsPerDay: count("events-per-day"),
      repeat: count("repeat"),
      contactPoint: values["contact-points"],
      heap: values.heap,
      resultsDir: values["results-dir"],
      cqlsh: !values["no-cqlsh"],
      install: !values["no-install"],
    };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
})();

interface Run extends TimedRun {
  /** One-minute load average when the run started and when it ended: the machine is shared. */
  load: [number, number];
}

interface Outcome {
  tool: string;
  runs: Run[];
}

interface SizeResult {
  orgs: number;
  sourceRows: number;
  outcomes: Outcome[];
}

const cacheDir = process.env.DEVENV_CACHE_DIR ?? join(homedir(), ".cache/devenv");
const work = mkdtempSync(join(tmpdir(), "devenv-bench-shrink-"));
const node = await benchCassandra({ contactPoint: args.contactPoint, localDataCenter: "datacenter1", heap: args.heap, cacheDir, log });
const client = await connectCassandra({ contactPoints: [node.contactPoint], localDataCenter: node.localDataCenter });
let keyspace: string | undefined;
try {
  const peers = await preparePeers(repoRoot, { install: args.install && args.cqlsh, cacheDir, log });
  const results: SizeResult[] = [];
  for (const orgs of args.orgs) {
    keyspace = `bench_shrink_${Date.now().toString(36)}`;
    results.push(await benchSize(orgs, keyspace, peers));
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    keyspace = undefined;
  }
  const report = renderReport(results);
  mkdirSync(args.resultsDir, { recursive: true });
  const day = new Date().toISOString().slice(0, 10);
  let file = join(args.resultsDir, `shrink-${day}.md`);
  for (let n = 2; existsSync(file); n++) file = join(args.resultsDir, `shrink-${day}-${n}.md`);
  writeFileSync(file, `${report}\n`);
  process.stdout.write(`\n${report}\n\nreport: ${file}\n`);
} catch (error) {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
} finally {
  if (keyspace) await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
  await client.shutdown();
  await node.stop();
  rmSync(work, { recursive: true, force: true });
}

async function benchSize(orgs: number, keyspace: string, peers: Awaited<ReturnType<typeof preparePeers>>): Promise<SizeResult> {
  log(`generating ${keyspace}: ${orgs} orgs × ${args.leadsPerOrg} leads, ${args.days} days × ${args.eventsPerDay} events…`);
  const generated = await generateDataset(client, {
    keyspace,
    orgs,
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
  if (!args.cqlsh) {
    log("cqlsh left out (--no-cqlsh)");
  } else if ("bin" in peers.cqlsh) {
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
      const loadBefore = loadavg()[0]!;
      const result = await runTimed({ command: tool.command, args: tool.args(run), env: tool.env, logFile: join(work, "tools.log"), timeoutMs: 60 * 60_000 });
      if (result.exitCode !== 0) throw new Error(`${tool.tool} failed (exit ${result.exitCode}):\n${result.stderrTail}`);
      log(`  ${result.seconds.toFixed(1)} s, peak RSS ${mib(result.usage.peakTreeRssBytes)} MiB (VmHWM ${mib(result.usage.rootHwmBytes)} MiB)`);
      outcomes[i]!.runs.push({ ...result, load: [loadBefore, loadavg()[0]!] });
      for (const dir of ["export", "shrink", "cqlsh"]) rmSync(join(work, `${dir}-${run}`), { recursive: true, force: true });
    }
  }
  return { orgs, sourceRows, outcomes };
}

function median(o: Outcome): Run {
  return [...o.runs].sort((a, b) => a.seconds - b.seconds)[Math.floor(o.runs.length / 2)]!;
}

function renderReport(results: readonly SizeResult[]): string {
  const lines = [
    `# bench:shrink ${new Date().toISOString().slice(0, 10)}`,
    "",
    `Source: \`devenv generate\` lead-management keyspace (orgs × ${args.leadsPerOrg} leads, ${args.days} days × ${args.eventsPerDay} events), ` +
      `rules examples/leads-rules.yaml (customers dropped, events kept 7 days), ${availableParallelism()} cores, Cassandra ${node.releaseVersion ?? "(reused node)"}, median of ${args.repeat}.`,
    "Rows/s are source rows read per wall second, process start-up included; peak RSS is the largest sum over the process tree sampled every 100 ms, " +
      "VmHWM the kernel's own peak of the root process; load is the one-minute load average at the start and end of the run (other work shares the machine, so wall time varies with it; CPU seconds less).",
  ];
  for (const { orgs, sourceRows, outcomes } of results) {
    const exportRun = median(outcomes[0]!);
    const shrinkRun = median(outcomes[1]!);
    lines.push(
      "",
      `## ${sourceRows.toLocaleString("en-US")} source rows (${orgs} orgs)`,
      "",
      "| tool | seconds | source rows/s | CPU s | peak RSS MiB | VmHWM MiB | time vs plain export | CPU vs plain export | load |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---|",
      ...outcomes.map((o) => {
        const m = median(o);
        return (
          `| ${o.tool} | ${m.seconds.toFixed(1)} | ${Math.round(sourceRows / m.seconds).toLocaleString("en-US")} | ${m.usage.cpuSeconds.toFixed(1)} | ` +
          `${mib(m.usage.peakTreeRssBytes)} | ${mib(m.usage.rootHwmBytes)} | ${(m.seconds / exportRun.seconds).toFixed(2)}× | ${(m.usage.cpuSeconds / exportRun.usage.cpuSeconds).toFixed(2)}× | ` +
          `${m.load[0].toFixed(1)} → ${m.load[1].toFixed(1)} |`
        );
      }),
      "",
      `Rules cost over plain export: ${((shrinkRun.seconds / exportRun.seconds - 1) * 100).toFixed(0)}% wall time, ` +
        `${((shrinkRun.usage.cpuSeconds / exportRun.usage.cpuSeconds - 1) * 100).toFixed(0)}% CPU (target < 30%); ` +
        `shrink peak RSS ${mib(shrinkRun.usage.peakTreeRssBytes)} MiB (target < 256).`,
    );
  }
  if (results.length > 1) {
    lines.push(
      "",
      "## Peak RSS by size",
      "",
      "| source rows | shrink peak RSS MiB | shrink VmHWM MiB | export peak RSS MiB | shrink CPU s | export CPU s |",
      "|---:|---:|---:|---:|---:|---:|",
      ...results.map(({ sourceRows, outcomes }) => {
        const [e, s] = [median(outcomes[0]!), median(outcomes[1]!)];
        return `| ${sourceRows.toLocaleString("en-US")} | ${mib(s.usage.peakTreeRssBytes)} | ${mib(s.usage.rootHwmBytes)} | ${mib(e.usage.peakTreeRssBytes)} | ${s.usage.cpuSeconds.toFixed(1)} | ${e.usage.cpuSeconds.toFixed(1)} |`;
      }),
    );
  }
  lines.push("", `Command: npm run bench:shrink -- ${process.argv.slice(2).join(" ")}`.trimEnd());
  return lines.join("\n");
}

function mib(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}
