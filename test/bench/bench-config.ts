import { availableParallelism, homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { shapeNames, type ShapeName } from "./data-shapes.ts";
import { loaderNames, type LoaderName } from "./loaders.ts";

export interface BenchConfig {
  rows: number;
  seed: number;
  /** Loads per loader and shape; the table shows the median. */
  repeat: number;
  shapes: ShapeName[];
  loaders: LoaderName[];
  /** Reuse this node (host:port) instead of starting one. */
  contactPoint: string | undefined;
  localDataCenter: string;
  heap: string;
  naiveRows: number;
  cqlshProcesses: number;
  /** Extra JVM options for dsbulk (its launcher reads DSBULK_JAVA_OPTS too). */
  dsbulkJavaOptions: string[];
  timeoutMs: number;
  resultsDir: string;
  cacheDir: string;
  /** Write a V8 CPU profile of our restore here. */
  cpuProfDir: string | undefined;
  /** Leave the loaded keyspaces in place (to inspect them). */
  keepKeyspaces: boolean;
  /** Copy every loader's log into the results folder (they are kept anyway when a load fails). */
  keepLogs: boolean;
  installPeers: boolean;
}

export const usage = `usage: npm run bench:restore -- [options]
  --rows N                rows per shape (default 1000000)
  --seed N                data set seed (default 1)
  --repeat N              load N times with each loader, report the median (default 1)
  --shapes small,wide     shapes to load (default both)
  --loaders LIST          of ${loaderNames.join(",")} (default all)
  --contact-points H:P    reuse this Cassandra instead of starting one
  --datacenter NAME       its local data center (default datacenter1)
  --heap SIZE             heap of the node the bench starts (default 1G)
  --naive-rows N          rows the naive loader inserts (default 20000, at most --rows)
  --cqlsh-processes N     cqlsh COPY NUMPROCESSES (default: the number of CPUs)
  --timeout-minutes N     per load (default 60)
  --results-dir DIR       where restore-<date>.md goes (default test/bench/results)
  --cpu-prof DIR          write a V8 CPU profile of each of our restores into DIR
  --keep-keyspaces        do not drop what was loaded
  --keep-logs             keep the loaders' logs (kept anyway when a load fails)
  --no-install            do not run scripts/install-bench-peers.sh first`;

/** Flags first, then DEVENV_* env; errors name the flag. */
export function loadBenchConfig(argv: readonly string[], env: NodeJS.ProcessEnv, repoRoot: string): BenchConfig {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      rows: { type: "string" },
      seed: { type: "string" },
      repeat: { type: "string" },
      shapes: { type: "string" },
      loaders: { type: "string" },
      "contact-points": { type: "string" },
      datacenter: { type: "string" },
      heap: { type: "string" },
      "naive-rows": { type: "string" },
      "cqlsh-processes": { type: "string" },
      "timeout-minutes": { type: "string" },
      "results-dir": { type: "string" },
      "cpu-prof": { type: "string" },
      "keep-keyspaces": { type: "boolean" },
      "keep-logs": { type: "boolean" },
      "no-install": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) throw new BenchUsageError(usage);
  const heap = values.heap ?? "1G";
  if (!/^\d+[MG]$/.test(heap)) throw new BenchUsageError(`--heap must look like 1G or 768M, got "${heap}"`);
  const contactPoint = values["contact-points"];
  if (contactPoint !== undefined && !/^[^:,\s]+:\d+$/.test(contactPoint)) {
    throw new BenchUsageError(`--contact-points must be one HOST:PORT, got "${contactPoint}"`);
  }
  return {
    rows: positiveInt("--rows", values.rows, 1_000_000),
    seed: positiveInt("--seed", values.seed, 1),
    repeat: positiveInt("--repeat", values.repeat, 1),
    shapes: listOf("--shapes", values.shapes, shapeNames),
    loaders: listOf("--loaders", values.loaders, loaderNames),
    contactPoint,
    localDataCenter: values.datacenter ?? "datacenter1",
    heap,
    naiveRows: positiveInt("--naive-rows", values["naive-rows"], 20_000),
    cqlshProcesses: positiveInt("--cqlsh-processes", values["cqlsh-processes"], availableParallelism()),
    dsbulkJavaOptions: (env.DSBULK_JAVA_OPTS ?? "").split(/\s+/).filter(Boolean),
    timeoutMs: positiveInt("--timeout-minutes", values["timeout-minutes"], 60) * 60_000,
    resultsDir: values["results-dir"] ?? join(repoRoot, "test/bench/results"),
    cacheDir: env.DEVENV_CACHE_DIR || join(env.HOME ?? homedir(), ".cache", "devenv"),
    cpuProfDir: values["cpu-prof"],
    keepKeyspaces: values["keep-keyspaces"] ?? false,
    keepLogs: values["keep-logs"] ?? false,
    installPeers: !(values["no-install"] ?? false),
  };
}

export class BenchUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchUsageError";
  }
}

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text.replaceAll("_", ""));
  if (!Number.isSafeInteger(n) || n < 1) throw new BenchUsageError(`${flag} must be a positive integer, got "${text}"`);
  return n;
}

function listOf<T extends string>(flag: string, text: string | undefined, allowed: readonly T[]): T[] {
  if (text === undefined) return [...allowed];
  const items = text.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = items.filter((s) => !(allowed as readonly string[]).includes(s));
  if (items.length === 0 || unknown.length > 0) {
    throw new BenchUsageError(`${flag} takes a comma-separated list of ${allowed.join(", ")}; got "${text}"`);
  }
  // in the canonical order, so reports line up between runs
  return allowed.filter((a) => items.includes(a));
}
