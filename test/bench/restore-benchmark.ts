import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import { connectCassandra, exportSnapshot, openStore, type BlobStore } from "@devenv/snapshot";
import { benchCassandra, type BenchCassandra } from "./bench-cassandra.ts";
import type { BenchConfig } from "./bench-config.ts";
import { preparePeers, type BenchPeers } from "./bench-peers.ts";
import { writeCsvFromSnapshot } from "./csv-from-snapshot.ts";
import { shapes, type BenchShape } from "./data-shapes.ts";
import { generateRows } from "./generate-rows.ts";
import { loaderInvocation, type LoaderName, type LoaderSetup, type ShapeInputs } from "./loaders.ts";
import { combineAttempts, renderReport, renderTable, verified, type BenchReport, type LoadOutcome } from "./report.ts";
import { processCpuSeconds } from "./process-tree-usage.ts";
import { runTimed } from "./timed-process.ts";
import { checkLoadedTable } from "./verify-load.ts";

const replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";

export interface BenchRun {
  report: BenchReport;
  /** Where the markdown report was written. */
  reportFile: string;
}

/**
 * One run of the restore benchmark: a node (started or reused), N generated rows per
 * shape, exported once with our exporter and once more as CSV, then each loader loads
 * the same rows into a fresh keyspace, timed and verified, one at a time.
 */
export async function runRestoreBenchmark(
  config: BenchConfig,
  repoRoot: string,
  log: (message: string) => void,
  signal: AbortSignal,
): Promise<BenchRun> {
  const startedAt = new Date();
  const loadAverageAtStart = loadavg();
  const runId = `bench_${randomBytes(3).toString("hex")}`;
  const scratch = mkdtempSync(join(tmpdir(), "devenv-bench-restore-"));
  let node: BenchCassandra | undefined;
  let client: cassandra.Client | undefined;
  const keyspacesToDrop = new Set<string>();
  const logDir = join(scratch, "logs");
  mkdirSync(logDir);
  let keepLogs = config.keepLogs;
  try {
    const peers = config.loaders.some((l) => l === "cqlsh" || l === "dsbulk")
      ? await preparePeers(repoRoot, { install: config.installPeers, cacheDir: config.cacheDir, log })
      : { cqlsh: { unavailable: "not selected" }, dsbulk: { unavailable: "not selected" } };
    signal.throwIfAborted();

    node = await benchCassandra({
      contactPoint: config.contactPoint,
      localDataCenter: config.localDataCenter,
      heap: config.heap,
      cacheDir: config.cacheDir,
      log,
    });
    log(`cassandra: ${node.startedHere ? `started ${node.releaseVersion} at` : "reusing"} ${node.contactPoint}`);
    client = await connectCassandra({ contactPoints: [node.contactPoint], localDataCenter: node.localDataCenter });
    const releaseVersion = ((await client.execute("SELECT release_version FROM system.local")).first()?.get(0) as string) ?? "?";

    // 1. the source data: N rows per shape, deterministic for the seed
    const source = `${runId}_src`;
    keyspacesToDrop.add(source);
    await createKeyspace(client, source);
    const preparation: string[] = [];
    const store = openStore(join(scratch, "store"));
    const inputs: ShapeInputs[] = [];
    for (const name of config.shapes) {
      signal.throwIfAborted();
      inputs.push(await prepareShape(client, store, shapes[name], source, runId, config, scratch, preparation, log));
    }

    // the source is no longer needed: its memtable flushes and compactions must not run into the loads
    await dropKeyspace(client, source);
    keyspacesToDrop.delete(source);

    // 2. every loader on every shape, one at a time, each into a fresh keyspace; a repeat
    //    rotates the order, so a loader is not always the one that follows the same other
    const outcomes: LoadOutcome[] = [];
    for (let attempt = 0; attempt < config.repeat; attempt++) {
      const order = config.loaders.map((_, i) => config.loaders[(i + attempt) % config.loaders.length]!);
      for (const input of inputs) {
        for (const loader of order) {
          signal.throwIfAborted();
          const keyspace = `${runId}_${loader}_${input.shape.name}_${attempt + 1}`;
          keyspacesToDrop.add(keyspace);
          const setup: LoaderSetup = {
            repoRoot,
            contactPoint: node.contactPoint,
            localDataCenter: node.localDataCenter,
            keyspace,
            workDir: mkdtempSync(join(scratch, `${loader}-${input.shape.name}-`)),
            logDir: join(logDir, `attempt-${attempt + 1}`),
            seed: config.seed,
            naiveRows: config.naiveRows,
            cqlsh: "bin" in peers.cqlsh ? { bin: peers.cqlsh.bin, processes: config.cqlshProcesses } : undefined,
            dsbulk:
              "libDir" in peers.dsbulk
                ? { java: peers.dsbulk.java, libDir: peers.dsbulk.libDir, javaOptions: config.dsbulkJavaOptions }
                : undefined,
            cpuProfDir: config.cpuProfDir,
          };
          mkdirSync(setup.logDir, { recursive: true });
          const outcome = await measureLoad(client, loader, attempt + 1, input, setup, peers, config, node.pid, signal);
          outcomes.push(outcome);
          log(`attempt ${attempt + 1}/${config.repeat}: ${summaryLine(outcome)}`);
          keepLogs ||= !verified(outcome);
          if (!config.keepKeyspaces) {
            await dropKeyspace(client, keyspace);
            keyspacesToDrop.delete(keyspace);
          }
          rmSync(setup.workDir, { recursive: true, force: true });
        }
      }
    }

    const report: BenchReport = {
      startedAt,
      rows: config.rows,
      seed: config.seed,
      cores: cpus().length,
      environment: [
        `${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? "unknown"}), load average at start ${loadAverageAtStart.map((l) => l.toFixed(2)).join(" ")}, at end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`,
        `Cassandra ${releaseVersion} ${node.startedHere ? `started by the bench (heap ${config.heap}, one node, loopback)` : `reused at ${node.contactPoint}`}`,
        `Node ${process.version}; our restore: \`apps/cli/bin/devenv snapshot restore\` with its defaults (load path auto: on this local node, tables without counters or indexes are written as SSTables by a JVM helper on the node's own jars, which reads the verified chunk files itself on 2 threads, and imported over JMX; CQL otherwise with 256 requests in flight, 4 connections), a fresh --work-dir (the helper, compiled once, stays in the cache dir)`,
        `cqlsh: ${"version" in peers.cqlsh ? peers.cqlsh.version : `unavailable (${peers.cqlsh.unavailable})`}`,
        `dsbulk: ${"version" in peers.dsbulk ? `${peers.dsbulk.version} on Java ${peers.dsbulk.javaVersion}` : `unavailable (${peers.dsbulk.unavailable})`}`,
      ],
      preparation,
      tuning: peerTuning(config),
      outcomes,
    };
    return { report, reportFile: writeReport(config.resultsDir, report) };
  } finally {
    if (client) {
      if (!config.keepKeyspaces) {
        for (const keyspace of keyspacesToDrop) await dropKeyspace(client, keyspace).catch(() => {});
      }
      await client.shutdown().catch(() => {});
    }
    if (node?.startedHere) {
      log("cassandra: stopping the bench node");
      await node.stop().catch((error: unknown) => log(`cassandra: stopping failed: ${(error as Error).message}`));
    }
    if (keepLogs) {
      const kept = join(config.resultsDir, `logs-${runId}`);
      cpSync(logDir, kept, { recursive: true });
      log(`the loaders' logs are in ${kept}`);
    }
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Generates a shape's rows, exports them with our exporter, and writes the same rows as CSV. */
async function prepareShape(
  client: cassandra.Client,
  store: BlobStore,
  shape: BenchShape,
  source: string,
  runId: string,
  config: BenchConfig,
  scratch: string,
  preparation: string[],
  log: (message: string) => void,
): Promise<ShapeInputs> {
  await client.execute(shape.createTable(source));
  let started = performance.now();
  await generateRows(client, source, shape, config.seed, config.rows, {
    onProgress: (done) => log(`generate ${shape.name}: ${done.toLocaleString("en-US")} / ${config.rows.toLocaleString("en-US")} rows`),
  });
  const generated = (performance.now() - started) / 1000;

  started = performance.now();
  const snapshotId = `${runId}-${shape.name}`;
  const manifest = await exportSnapshot({ client, keyspace: source, tables: [shape.table], store, snapshotId, description: "restore benchmark" });
  const exported = (performance.now() - started) / 1000;
  const table = manifest.tables[0]!;
  if (table.rows !== config.rows) throw new Error(`export of ${shape.name} holds ${table.rows} rows, expected ${config.rows}`);

  started = performance.now();
  const csv = await writeCsvFromSnapshot(store, table, join(scratch, `${shape.name}.csv`));
  const converted = (performance.now() - started) / 1000;
  if (csv.rows !== config.rows) throw new Error(`CSV of ${shape.name} holds ${csv.rows} rows, expected ${config.rows}`);

  const ndjsonBytes = table.chunks.reduce((n, c) => n + c.rawBytes, 0);
  const rate = (seconds: number) => `${Math.round(config.rows / seconds).toLocaleString("en-US")} rows/s`;
  preparation.push(
    `${shape.name} (${shape.summary}): generated in ${generated.toFixed(1)} s (${rate(generated)}); exported in ${exported.toFixed(1)} s ` +
      `(${rate(exported)}; ${table.chunks.length} chunks, ${mb(table.bytes)} MB gzip, ${mb(ndjsonBytes)} MB NDJSON); ` +
      `CSV ${mb(csv.bytes)} MB written from the export in ${converted.toFixed(1)} s`,
  );
  log(preparation.at(-1)!);
  return {
    shape,
    rows: config.rows,
    snapshotPath: join(store.location, "snapshots", snapshotId),
    ndjsonBytes,
    csvPath: csv.path,
    csvBytes: csv.bytes,
    csvColumns: csv.columns,
  };
}

async function measureLoad(
  client: cassandra.Client,
  loader: LoaderName,
  attempt: number,
  input: ShapeInputs,
  setup: LoaderSetup,
  peers: BenchPeers,
  config: BenchConfig,
  nodePid: number | undefined,
  signal: AbortSignal,
): Promise<LoadOutcome> {
  const outcome: LoadOutcome = {
    shape: input.shape.name,
    loader,
    attempt,
    rows: loader === "naive" ? Math.min(input.rows, config.naiveRows) : input.rows,
    bytes: 0,
    bytesKind: loader === "ours" ? "NDJSON" : "CSV",
    seconds: undefined,
    usage: undefined,
    nodeCpuSeconds: undefined,
    check: undefined,
    failure: undefined,
    notes: [],
  };
  const unavailable = loader === "cqlsh" || loader === "dsbulk" ? peers[loader] : undefined;
  if (unavailable && "unavailable" in unavailable) {
    outcome.failure = `${loader} unavailable: ${unavailable.unavailable}`;
    return outcome;
  }
  const invocation = loaderInvocation(loader, input, setup);
  outcome.bytes = invocation.bytes;
  if (!invocation.createsSchema) {
    await createKeyspace(client, setup.keyspace);
    await client.execute(input.shape.createTable(setup.keyspace));
  }
  // the previous load's compactions would otherwise slow this one down
  await waitForCompactions(client, 180_000);

  const nodeCpuBefore = nodePid === undefined ? undefined : processCpuSeconds(nodePid);
  const run = await runTimed({
    command: invocation.command,
    args: invocation.args,
    env: invocation.env,
    cwd: setup.workDir,
    logFile: join(setup.logDir, `${loader}-${input.shape.name}.log`),
    timeoutMs: config.timeoutMs,
    signal,
  });
  const nodeCpuAfter = nodePid === undefined ? undefined : processCpuSeconds(nodePid);
  signal.throwIfAborted();
  if (nodeCpuBefore !== undefined && nodeCpuAfter !== undefined) outcome.nodeCpuSeconds = nodeCpuAfter - nodeCpuBefore;
  outcome.seconds = run.seconds;
  outcome.usage = run.usage;
  if (run.timedOut) outcome.failure = `timed out after ${(config.timeoutMs / 60_000).toFixed(0)} min`;
  else if (run.exitCode !== 0) outcome.failure = `exit ${run.exitCode ?? run.signal}: ${lastMeaningfulLine(run.stderrTail || run.stdout)}`;
  else {
    try {
      outcome.notes.push(...invocation.interpret(run));
    } catch (error) {
      outcome.failure = (error as Error).message;
    }
  }
  try {
    outcome.check = await checkLoadedTable(client, setup.keyspace, input.shape, setup.seed, outcome.rows);
  } catch (error) {
    outcome.failure ??= `verification failed: ${(error as Error).message}`;
  }
  return outcome;
}

async function createKeyspace(client: cassandra.Client, keyspace: string): Promise<void> {
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = ${replication}`);
}

async function dropKeyspace(client: cassandra.Client, keyspace: string): Promise<void> {
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { readTimeout: 120_000 });
}

/** Polls system_views.sstable_tasks (Cassandra 4.0+) until no compaction runs, or the deadline passes. */
async function waitForCompactions(client: cassandra.Client, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const tasks = await client.execute("SELECT keyspace_name FROM system_views.sstable_tasks").catch(() => undefined);
    if (!tasks || tasks.rowLength === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function peerTuning(config: BenchConfig): string[] {
  return [
    `cqlsh COPY FROM: NUMPROCESSES=${config.cqlshProcesses} (its default is CPUs − 1, capped at 16), INGESTRATE=10000000 (default 100000 rows/s is a cap), ` +
      "CHUNKSIZE=5000, MINBATCHSIZE=10, MAXBATCHSIZE=20 (defaults), prepared statements (default), ESCAPE='\"' (RFC 4180 quotes), " +
      "MAXPARSEERRORS=0 and MAXINSERTERRORS=0 (fail, not skip); no cqlshrc",
    "dsbulk load: --batch.mode REPLICA_SET (default PARTITION_KEY sends one-row batches for one-row partitions; about half the rate here), " +
      "otherwise defaults (executor.maxInFlight, unlimited rate); -escape '\"' (RFC 4180 quotes), --codec.timestamp UNITS_SINCE_EPOCH " +
      `(the CSV holds epoch milliseconds), -maxErrors 0; JVM options: ${config.dsbulkJavaOptions.length > 0 ? config.dsbulkJavaOptions.join(" ") : "none, as its launcher (JVM default heap)"}`,
    "dsbulk-distribution is not on Maven Central (its pom skips deployment); the bench runs the same modules' jars, resolved by scripts/install-bench-peers.sh",
    `naive: one prepared INSERT at a time, awaited, default Node driver settings, first min(N, ${config.naiveRows.toLocaleString("en-US")}) rows`,
    "peers load into a table the bench created beforehand (untimed); ours creates keyspace and table itself (timed, after trying the DDL on a scratch keyspace)",
  ];
}

function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const day = report.startedAt.toISOString().slice(0, 10);
  let file = join(dir, `restore-${day}.md`);
  for (let n = 2; existsSync(file); n++) file = join(dir, `restore-${day}-${n}.md`);
  writeFileSync(file, renderReport(report));
  return file;
}

function summaryLine(o: LoadOutcome): string {
  return renderTable(combineAttempts([o])).split("\n")[2] ?? "";
}

/** The line of a loader's output most likely to say what went wrong: an error line, else the last one. */
function lastMeaningfulLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^at /.test(l) && !/^Node\.js v\d/.test(l));
  const error = lines.findLast((l) => /error|failed|exception|refused/i.test(l));
  return (error ?? lines.at(-1) ?? "no output").slice(0, 300);
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
