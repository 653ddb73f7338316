// npm run bench: every benchmark in turn, then one markdown report whose table lists each
// benchmark's headline figures (its own "Targets"/summary lines) and links its full report.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const resultsDir = join(repoRoot, "test/bench/results");
const unknown = process.argv.slice(2).filter((arg) => arg !== "--quick");
if (unknown.length > 0) {
  process.stderr.write(`usage: npm run bench [-- --quick]  (unknown: ${unknown.join(" ")}); each bench:* script takes its own options\n`);
  process.exit(2);
}
const quick = process.argv.includes("--quick");

// --quick: smaller inputs, for a first look (minutes instead of an hour)
const benches: { name: string; script: string; args: string[]; report: RegExp }[] = [
  { name: "restore", script: "bench:restore", args: quick ? ["--rows", "100000"] : [], report: /^restore-.*\.md$/ },
  // three runs of each tool, the median reported: single runs of a 20-second shrink swing by 10 % on a shared machine
  { name: "shrink", script: "bench:shrink", args: quick ? ["--orgs", "40", "--leads-per-org", "200", "--days", "14", "--events-per-day", "50"] : ["--repeat", "3"], report: /^shrink-.*\.md$/ },
  // the hub's target is 10,000 agents (its own default is 5,000, a shorter run)
  { name: "hub", script: "bench:hub", args: quick ? ["--agents", "2000"] : ["--agents", "10000"], report: /^hub-\d{4}-\d{2}-\d{2}(-\d+-agents)?.*\.md$/ },
  { name: "tunnel", script: "bench:tunnel", args: [], report: /^tunnel-.*\.md$/ },
];

function newestReport(pattern: RegExp, since: number): string | undefined {
  const files = readdirSync(resultsDir)
    .filter((f) => pattern.test(f))
    .map((f) => ({ f, at: statSync(join(resultsDir, f)).mtimeMs }))
    .filter((r) => r.at >= since)
    .sort((a, b) => b.at - a.at);
  return files[0]?.f;
}

/** The lines a report states its outcome in: targets, ratios, totals. */
function headline(text: string): string {
  // (the tunnel's outcome is its tunnel-route rows; table headers and rulers say nothing)
  const lines = text.split("\n").filter((l) => /target|met\b|×|ratio|Rules cost|p99|tunnel route/i.test(l) && !l.startsWith("|---") && !l.startsWith("| workload"));
  return lines.slice(0, 6).map((l) => l.replace(/^[-*]\s*/, "").replace(/\|/g, "/").trim()).join("<br>") || "(see report)";
}

mkdirSync(resultsDir, { recursive: true });
const rows: string[] = [];
for (const bench of benches) {
  const started = Date.now();
  process.stderr.write(`[bench] npm run ${bench.script} ${bench.args.join(" ")}\n`);
  const run = spawnSync("npm", ["run", bench.script, "--", ...bench.args], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const report = newestReport(bench.report, started);
  const summary = report ? headline(readFileSync(join(resultsDir, report), "utf8")) : "no report written";
  rows.push(`| ${bench.name} | \`npm run ${bench.script}${bench.args.length ? ` -- ${bench.args.join(" ")}` : ""}\` | ${run.status === 0 ? "ok" : `exit ${run.status}`} | ${seconds} | ${summary} | ${report ?? "—"} |`);
}
const file = join(resultsDir, `all-${new Date().toISOString().slice(0, 10)}.md`);
const table = [
  `# All benchmarks, ${new Date().toISOString()}${quick ? " (--quick)" : ""}`,
  "",
  "| benchmark | command | result | seconds | headline | full report |",
  "|---|---|---|---:|---|---|",
  ...rows,
  "",
].join("\n");
writeFileSync(file, table);
process.stdout.write(`\n${table}\nreport: ${file}\n`);
