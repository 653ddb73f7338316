// npm run bench:tunnel -- [options]: what the local forward costs. The same CQL workload
// runs against Cassandra directly, through the forward with a direct route, and through
// the forward with a tunnel route (a WebSocket relay standing where the control plane
// will); the table gives ops/s, latency percentiles and ratios to direct.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, homedir, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ForwardControl, forwardPaths, parseHostPort, startTunnelRelay } from "@devenv/forward";
import type { ForwardRoute } from "@devenv/protocol";
import cassandra from "cassandra-driver";
import { benchCassandra } from "./bench-cassandra.ts";
import { freePort } from "../harness/ports.ts";

const usage = `usage: npm run bench:tunnel -- [options]
  --selects N            prepared SELECTs by key with --concurrency in flight (default 20000)
  --latency-selects N    SELECTs one at a time, for the added latency (default 2000)
  --inserts N            INSERTs with --concurrency in flight (default 20000)
  --concurrency N        requests in flight (default 32)
  --keys N               rows preloaded for the SELECTs (default 10000)
  --repeat N             rounds over the three paths after one warm-up round; the table shows medians (default 3)
  --contact-points H:P   reuse this Cassandra instead of starting one
  --heap SIZE            heap of the node the bench starts (default 512M)
  --results-dir DIR      where tunnel-<date>.md goes (default test/bench/results)`;

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const relayToken = "bench-token";


function parseConfig() {
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      strict: true,
      options: {
        selects: { type: "string", default: "20000" },
        "latency-selects": { type: "string", default: "2000" },
        inserts: { type: "string", default: "20000" },
        concurrency: { type: "string", default: "32" },
        keys: { type: "string", default: "10000" },
        repeat: { type: "string", default: "3" },
        "contact-points": { type: "string" },
        heap: { type: "string", default: "512M" },
        "results-dir": { type: "string", default: join(repoRoot, "test/bench/results") },
        help: { type: "boolean", default: false },
      },
    });
    if (values.help) {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    const count = (flag: "selects" | "latency-selects" | "inserts" | "concurrency" | "keys" | "repeat") => {
      const n = Number(values[flag]);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, got "${values[flag]}"`);
      return n;
    };
    return {
      selects: count("selects"),
      latencySelects: count("latency-selects"),
      inserts: count("inserts"),
      concurrency: count("concurrency"),
      keys: count("keys"),
      repeat: count("repeat"),
      contactPoint: values["contact-points"],
      heap: values.heap,
      resultsDir: values["results-dir"],
    };
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${usage}\n`);
    process.exit(2);
  }
}

type PathName = "direct" | "forward, direct route" | "forward, tunnel route";
const pathNames: PathName[] = ["direct", "forward, direct route", "forward, tunnel route"];
type PhaseName = "SELECT, 1 in flight" | "SELECT, C in flight" | "INSERT, C in flight";

interface PhaseResult {
  path: PathName;
  phase: PhaseName;
  ops: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds of the forward and relay processes during the phase. */
  forwardCpuSeconds: number;
  relayCpuSeconds: number;
}

async function main(): Promise<void> {
  const config = parseConfig();
  const cacheDir = process.env.DEVENV_CACHE_DIR ?? join(homedir(), ".cache/devenv");
  const work = mkdtempSync(join(tmpdir(), "devenv-bench-tunnel-"));
  const node = await benchCassandra({ contactPoint: config.contactPoint, localDataCenter: "datacenter1", heap: config.heap, cacheDir, log });
  const children: ChildProcess[] = [];
  const keyspace = `bench_tunnel_${Date.now().toString(36)}`;
  const setup = new cassandra.Client({ contactPoints: [node.contactPoint], localDataCenter: node.localDataCenter });
  try {
    await setup.connect();
    await setup.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await setup.execute(`CREATE TABLE ${keyspace}.kv (k int PRIMARY KEY, v text)`);
    log(`preloading ${config.keys} rows…`);
    const value = "v".repeat(100);
    await runConcurrently(config.keys, 64, (i) => setup.execute(`INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?)`, [i, value], { prepare: true }));

    // the forward: the CLI's own foreground process, on a port of its own
    const stateDir = join(work, "state");
    const listenPort = await freePort();
    const forward = spawn(join(repoRoot, "apps/cli/bin/devenv"), ["--state-dir", stateDir, "forward", "run", "--listen", `127.0.0.1:${listenPort}`], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    children.push(forward);
    const control = new ForwardControl(forwardPaths(stateDir).socketPath);
    await waitFor(() => control.status().then(() => true, () => false), "the forward to answer");

    const relay = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--serve-relay", node.contactPoint], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(relay);
    const relayUrl = await firstLine(relay);
    const target = parseHostPort(node.contactPoint, "the node");
    const routes: Record<Exclude<PathName, "direct">, ForwardRoute> = {
      "forward, direct route": { kind: "direct", ...target },
      "forward, tunnel route": { kind: "tunnel", url: `${relayUrl}/cql`, token: relayToken },
    };

    const results: PhaseResult[] = [];
    const loadBefore = loadavg()[0]!;
    // round 0 warms up the node's JIT and caches on every path and is not reported
    for (let round = 0; round <= config.repeat; round++) {
      for (const path of pathNames) {
        let contactPoint = node.contactPoint;
        if (path !== "direct") {
          await control.use(routes[path]);
          contactPoint = `127.0.0.1:${listenPort}`;
        }
        log(round === 0 ? `warm-up: ${path}…` : `round ${round}/${config.repeat}: ${path}…`);
        const client = new cassandra.Client({ contactPoints: [contactPoint], localDataCenter: node.localDataCenter });
        await client.connect();
        const select = `SELECT v FROM ${keyspace}.kv WHERE k = ?`;
        const insert = `INSERT INTO ${keyspace}.kv (k, v) VALUES (?, ?)`;
        const key = (i: number) => (i * 7919) % config.keys;
        await runConcurrently(500, config.concurrency, (i) => client.execute(select, [key(i)], { prepare: true }));
        const measure = async (phase: PhaseName, ops: number, concurrency: number, op: (i: number) => Promise<unknown>) => {
          const cpuBefore = [cpuSeconds(forward.pid), cpuSeconds(relay.pid)];
          const timing = await timed(ops, concurrency, op);
          const result = {
            path,
            phase,
            ops,
            ...timing,
            forwardCpuSeconds: cpuSeconds(forward.pid) - cpuBefore[0]!,
            relayCpuSeconds: cpuSeconds(relay.pid) - cpuBefore[1]!,
          };
          log(`  ${phase}: ${Math.round(result.opsPerSecond)} ops/s, p50 ${result.p50Ms.toFixed(2)} ms, p99 ${result.p99Ms.toFixed(2)} ms`);
          if (round > 0) results.push(result);
        };
        await measure("SELECT, 1 in flight", config.latencySelects, 1, (i) => client.execute(select, [key(i)], { prepare: true }));
        await measure("SELECT, C in flight", config.selects, config.concurrency, (i) => client.execute(select, [key(i)], { prepare: true }));
        await measure("INSERT, C in flight", config.inserts, config.concurrency, (i) =>
          client.execute(insert, [config.keys + i, value], { prepare: true }),
        );
        await client.shutdown();
      }
    }

    const forwardStatus = await control.status();
    const load = { before: loadBefore, after: loadavg()[0]! };
    const report = formatReport(config, node, results, forwardStatus.routes, load);
    process.stdout.write(`${report}\n`);
    mkdirSync(config.resultsDir, { recursive: true });
    const file = join(config.resultsDir, `tunnel-${new Date().toISOString().slice(0, 10)}.md`);
    writeFileSync(file, `${report}\n`);
    log(`wrote ${file}`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await setup.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).catch(() => {});
    await setup.shutdown();
    await node.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

async function runConcurrently(total: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      for (let i = next++; i < total; i = next++) await op(i);
    }),
  );
}

async function timed(total: number, concurrency: number, op: (i: number) => Promise<unknown>) {
  const latencies = new Float64Array(total);
  const started = performance.now();
  await runConcurrently(total, concurrency, async (i) => {
    const t = performance.now();
    await op(i);
    latencies[i] = performance.now() - t;
  });
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  const at = (q: number) => latencies[Math.min(total - 1, Math.floor(q * total))]!;
  return { opsPerSecond: total / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** User + system CPU seconds of a process (Linux /proc; 0 elsewhere). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once("line", (line) => resolve(line.trim()));
    child.once("exit", (code) => reject(new Error(`the relay exited with code ${code} before it listened`)));
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function formatReport(
  config: ReturnType<typeof parseConfig>,
  node: { contactPoint: string; releaseVersion: string | undefined; startedHere: boolean },
  results: PhaseResult[],
  routes: { route: unknown; opened: number; failed: number; bytesFromClients: number; bytesToClients: number }[],
  load: { before: number; after: number },
): string {
  const phases: PhaseName[] = ["SELECT, 1 in flight", "SELECT, C in flight", "INSERT, C in flight"];
  const summary = (path: PathName, phase: PhaseName) => {
    const runs = results.filter((r) => r.path === path && r.phase === phase);
    return {
      opsPerSecond: median(runs.map((r) => r.opsPerSecond)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      cpu: median(runs.map((r) => r.forwardCpuSeconds + r.relayCpuSeconds)),
    };
  };
  const rows: string[] = [];
  for (const phase of phases) {
    const base = summary("direct", phase);
    for (const path of pathNames) {
      const s = summary(path, phase);
      const ratio = (a: number, b: number) => (path === "direct" ? "1.00" : (a / b).toFixed(2));
      rows.push(
        `| ${phase.replace("C in flight", `${config.concurrency} in flight`)} | ${path} | ${Math.round(s.opsPerSecond)} | ${ratio(s.opsPerSecond, base.opsPerSecond)} | ${s.p50Ms.toFixed(2)} | ${ratio(s.p50Ms, base.p50Ms)} | ${s.p99Ms.toFixed(2)} | ${ratio(s.p99Ms, base.p99Ms)} | ${path === "direct" ? "–" : s.cpu.toFixed(2)} |`,
      );
    }
  }
  const transferred = routes
    .map((r) => `${JSON.stringify(r.route)}: ${r.opened} connections, ${r.failed} failed, ${(r.bytesFromClients / 2 ** 20).toFixed(1)} MiB sent, ${(r.bytesToClients / 2 ** 20).toFixed(1)} MiB received`)
    .map((line) => `- ${line}`);
  const perRound = phases.flatMap((phase) =>
    pathNames.map((path) => {
      const runs = results.filter((r) => r.path === path && r.phase === phase).map((r) => Math.round(r.opsPerSecond));
      return `| ${phase.replace("C in flight", `${config.concurrency} in flight`)} | ${path} | ${runs.join(" / ")} |`;
    }),
  );
  return [
    `# bench:tunnel ${new Date().toISOString().slice(0, 10)}`,
    "",
    `The same CQL workload against Cassandra ${node.releaseVersion ?? ""} (${node.startedHere ? "a node the bench started" : node.contactPoint}) three ways:`,
    "directly; through the local forward (`devenv forward run`, its own process) with a direct route;",
    "and through the forward with a tunnel route, one WebSocket per connection to a relay process",
    "(the stand-in for the control plane) that relays to the node. Everything on one machine, loopback only.",
    "",
    `Workload: ${config.keys} rows preloaded (int key, 100-byte text); prepared SELECT by key with 1 request in flight (${config.latencySelects} ops)`,
    `and with ${config.concurrency} in flight (${config.selects} ops); prepared INSERTs with ${config.concurrency} in flight (${config.inserts} ops).`,
    `One cassandra-driver client per path (its default pool: one connection), 500 warm-up SELECTs first.`,
    `One unreported warm-up round over all paths, then ${config.repeat} rounds, paths in turn; the table shows medians.`,
    "Ratios are to direct: ops/s below 1 and latency above 1 is the cost of the path.",
    "",
    "| workload | path | ops/s | × direct | p50 ms | × direct | p99 ms | × direct | forward + relay CPU s |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows,
    "",
    `Machine: ${availableParallelism()} CPUs shared with other work; 1-minute load average ${load.before.toFixed(1)} at the start, ${load.after.toFixed(1)} at the end.`,
    "",
    "ops/s of every round:",
    "",
    "| workload | path | rounds |",
    "|---|---|---|",
    ...perRound,
    "",
    "Forward counters at the end:",
    ...transferred,
  ].join("\n");
}

// The relay runs in its own process, as the control plane would: `--serve-relay HOST:PORT`.
const relayIndex = process.argv.indexOf("--serve-relay");
if (relayIndex >= 0) {
  const target = parseHostPort(process.argv[relayIndex + 1] ?? "", "--serve-relay");
  const relay = await startTunnelRelay({ token: relayToken, targetFor: () => target });
  process.stdout.write(`${relay.url}\n`);
  process.once("SIGTERM", () => void relay.close().then(() => process.exit(0)));
} else {
  await main();
}
