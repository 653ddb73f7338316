// `npm run bench:restore -- [--rows N] ...`: our snapshot restore against cqlsh COPY,
// dsbulk and a naive loader on one real Cassandra node. See test/bench/README.md.
import { fileURLToPath } from "node:url";
import { BenchUsageError, loadBenchConfig } from "./bench-config.ts";
import { combineAttempts, renderTable, renderTargets } from "./report.ts";
import { runRestoreBenchmark } from "./restore-benchmark.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

const config = (() => {
  try {
    return loadBenchConfig(process.argv.slice(2), process.env, repoRoot);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(error instanceof BenchUsageError ? 2 : 1);
  }
})();

// Ctrl-C still stops the node the bench started and drops its keyspaces
const abort = new AbortController();
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.once(name, () => {
    log(`${name}: stopping after cleanup…`);
    abort.abort(new Error(`interrupted by ${name}`));
  });
}

try {
  const { report, reportFile } = await runRestoreBenchmark(config, repoRoot, log, abort.signal);
  const rows = combineAttempts(report.outcomes);
  process.stdout.write(`\n${renderTable(rows)}\n\n${renderTargets(rows, report.cores).join("\n")}\n\nfull report: ${reportFile}\n`);
} catch (error) {
  log(`failed: ${(error as Error).stack ?? String(error)}`);
  process.exitCode = 1;
}
