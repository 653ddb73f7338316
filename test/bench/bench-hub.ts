// `npm run bench:hub -- [--agents N] ...`: N protocol-level agents connected to an agent hub
// in a child process, heartbeating; measures the hub process's RSS and CPU and the round
// trip of a command (sendCommand -> the agent's ack). See --help.
//
// One file, three roles: the parent (default) forks `--role hub` (the hub alone in its
// process, so the agents' work does not skew its figures) and `--role agents` (a share of
// the simulated fleet each). Every socket is a file descriptor: the npm script raises the
// soft `ulimit -n` to the hard limit, and the parent checks it is enough before starting.
import { fork } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, loadavg, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { AgentHub, InMemoryHubBackend } from "@devenv/hub";
import { TestAgent } from "@devenv/hub/testing";
import { processCpuSeconds, ProcessTreeUsage } from "./process-tree-usage.ts";

const usage = `usage: npm run bench:hub -- [options]

  --agents N          simulated agents (default 5000)
  --agent-processes K processes the agents are spread over (default 2)
  --heartbeat-ms MS   heartbeat interval the hub tells agents (default 10000)
  --steady-s S        seconds of heartbeats only, for the idle CPU figure (default 30)
  --commands M        commands sent for the round-trip figures (default 2000)
  --command-rate R    commands per second (default 100)
  --connect-concurrency C  connection attempts in flight per agent process (default 100)
  --out FILE          report path (default test/bench/results/hub-<date>-<N>-agents.md, then -2, -3…)
`;

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const log = (message: string) => process.stderr.write(`[bench:hub] ${message}\n`);

// ---- messages between the roles (over the fork IPC channel) ---------------------------

type HubReply =
  | { type: "listening"; port: number }
  | { type: "status"; connected: number; heartbeats: number }
  | { type: "latencies"; millis: number[]; unacked: number; loopDelayMaxMs: number; loopDelayP99Ms: number; gcPauseMaxMs: number; gcPauseTotalMs: number };
type HubRequest = { type: "status" } | { type: "run-commands"; count: number; perSecond: number; agentIds: string[] };
type AgentsReply = { type: "connected"; connected: number; failed: number; firstError?: string; seconds: number };

// ---- role: hub ------------------------------------------------------------------------

async function runHub(agents: number, heartbeatMs: number): Promise<void> {
  const backend = new InMemoryHubBackend({ progressKept: 0 });
  for (let i = 0; i < agents; i++) backend.addCredential(`agent-${i}`, credentialOf(i));
  const server = createServer((_request, response) => response.writeHead(404).end());
  server.maxConnections = agents + 100;
  // the default backlog drops SYNs when thousands of agents connect at once
  await new Promise<void>((resolve) => server.listen({ port: 0, host: "127.0.0.1", backlog: 4096 }, resolve));
  const hub = new AgentHub({ server, backend, heartbeatIntervalMs: heartbeatMs });
  await hub.start();

  let heartbeats = 0;
  hub.on("agent-health", () => heartbeats++);
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let onAllAcked: (() => void) | undefined;
  hub.on("command-acked", ({ commandId }) => {
    const started = sentAt.get(commandId);
    if (started === undefined) return;
    sentAt.delete(commandId);
    latencies.push(performance.now() - started);
    if (sentAt.size === 0) onAllAcked?.();
  });

  const reply = (message: HubReply) => process.send?.(message);
  process.on("message", (request: HubRequest) => {
    switch (request.type) {
      case "status":
        reply({ type: "status", connected: hub.connectedAgents().length, heartbeats });
        return;
      case "run-commands":
        void runCommands(request).then(reply);
        return;
    }
  });
  process.on("disconnect", () => process.exit(0));
  reply({ type: "listening", port: (server.address() as AddressInfo).port });

  async function runCommands(request: Extract<HubRequest, { type: "run-commands" }>): Promise<HubReply> {
    latencies.length = 0;
    // where a slow round trip comes from: the hub's own event loop and garbage collector
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    let gcPauseMaxMs = 0;
    let gcPauseTotalMs = 0;
    const gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcPauseMaxMs = Math.max(gcPauseMaxMs, entry.duration);
        gcPauseTotalMs += entry.duration;
      }
    });
    gcObserver.observe({ entryTypes: ["gc"] });
    const gapMs = 1000 / request.perSecond;
    const begin = performance.now();
    for (let i = 0; i < request.count; i++) {
      // paced against the start, so a slow send does not lower the rate
      const due = begin + i * gapMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const agentId = request.agentIds[i % request.agentIds.length] ?? "agent-0";
      const started = performance.now();
      const key = `bench-${i}-${Math.random().toString(36).slice(2)}`;
      const command = await hub.sendCommand(agentId, {
        type: "assign",
        assignmentId: key,
        idempotencyKey: key,
        snapshot: {
          id: "snap-bench",
          manifestUrl: "http://127.0.0.1:1/snapshots/snap-bench/manifest.json?sig=bench",
          chunkUrlTemplate: "http://127.0.0.1:1/chunks/{sha256}?sig=bench",
        },
        targetKeyspace: "bench",
      });
      // the ack needs a network round trip, so it cannot arrive before this line runs
      sentAt.set(command.commandId, started);
    }
    if (sentAt.size > 0) {
      await new Promise<void>((resolve) => {
        onAllAcked = resolve;
        setTimeout(resolve, 10_000).unref();
      });
    }
    const unacked = sentAt.size;
    sentAt.clear();
    loopDelay.disable();
    gcObserver.disconnect();
    return {
      type: "latencies",
      millis: [...latencies],
      unacked,
      loopDelayMaxMs: loopDelay.max / 1e6,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      gcPauseMaxMs,
      gcPauseTotalMs,
    };
  }
}

// ---- role: agents -----------------------------------------------------------------------

async function runAgents(url: string, from: number, to: number, concurrency: number): Promise<void> {
  const started = performance.now();
  const fleet: TestAgent[] = [];
  let next = from;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < to) {
      const index = next++;
      try {
        const agent = await TestAgent.connect({ url, auth: { credential: credentialOf(index) }, autoAck: true, keepLog: false, welcomeTimeoutMs: 60_000 });
        fleet.push(agent);
        // spread heartbeats over the interval instead of sending them in waves
        const interval = agent.welcome?.heartbeatIntervalMs ?? 10_000;
        setTimeout(() => {
          agent.heartbeat();
          agent.startHeartbeats(interval);
        }, Math.random() * interval).unref();
      } catch (error) {
        failed++;
        firstError ??= (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const reply: AgentsReply = { type: "connected", connected: fleet.length, failed, seconds: (performance.now() - started) / 1000, ...(firstError ? { firstError } : {}) };
  process.send?.(reply);
  process.on("disconnect", () => {
    for (const agent of fleet) agent.terminate();
    process.exit(0);
  });
}

// ---- role: parent -------------------------------------------------------------------------

interface Options {
  agents: number;
  agentProcesses: number;
  heartbeatMs: number;
  steadySeconds: number;
  commands: number;
  commandRate: number;
  connectConcurrency: number;
  out: string | undefined;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: "string", default: "5000" },
      "agent-processes": { type: "string", default: "2" },
      "heartbeat-ms": { type: "string", default: "10000" },
      "steady-s": { type: "string", default: "30" },
      commands: { type: "string", default: "2000" },
      "command-rate": { type: "string", default: "100" },
      "connect-concurrency": { type: "string", default: "100" },
      out: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const positive = (name: string, text: string) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`);
    return value;
  };
  return {
    agents: positive("agents", values.agents),
    agentProcesses: positive("agent-processes", values["agent-processes"]),
    heartbeatMs: positive("heartbeat-ms", values["heartbeat-ms"]),
    steadySeconds: positive("steady-s", values["steady-s"]),
    commands: positive("commands", values.commands),
    commandRate: positive("command-rate", values["command-rate"]),
    connectConcurrency: positive("connect-concurrency", values["connect-concurrency"]),
    out: values.out,
  };
}

function openFilesLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
  const soft = line?.split(/\s{2,}/)[1];
  return soft === undefined || soft === "unlimited" ? Number.POSITIVE_INFINITY : Number(soft);
}

async function runParent(options: Options): Promise<void> {
  const perProcess = Math.ceil(options.agents / options.agentProcesses);
  const limit = openFilesLimit();
  const needed = Math.max(options.agents, perProcess) + 200;
  if (limit < needed) {
    throw new Error(`ulimit -n is ${limit}; ${options.agents} agents need about ${needed} open files per process. Run through \`npm run bench:hub\` (it raises the soft limit) or raise the hard limit.`);
  }
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
  };
  process.once("SIGINT", () => {
    stopAll();
    process.exit(130);
  });
  const script = fileURLToPath(import.meta.url);
  const spawnRole = (args: string[]) => {
    const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: ["--conditions=devenv-source"] });
    children.push(child);
    child.on("exit", (code, signal) => {
      if (code !== 0 && code !== null) log(`${args.slice(0, 2).join(" ")} exited with ${code ?? signal}`);
    });
    return child;
  };
  const nextMessage = <T>(child: ChildProcess, type: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (message: { type: string }) => {
        if (message.type !== type) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(message as T);
      };
      const onExit = (code: number | null) => reject(new Error(`child exited (${code}) before sending ${type}`));
      child.on("message", onMessage);
      child.once("exit", onExit);
    });

  try {
    const loadBefore = loadavg()[0] ?? 0;
    const hub = spawnRole(["--role", "hub", "--agents", String(options.agents), "--heartbeat-ms", String(options.heartbeatMs)]);
    const { port } = await nextMessage<Extract<HubReply, { type: "listening" }>>(hub, "listening");
    const hubPid = hub.pid ?? 0;
    const hubUsage = new ProcessTreeUsage(hubPid, 250);
    const cpuAtStart = processCpuSeconds(hubPid) ?? 0;
    const rssAtStart = rssOf(hubPid);
    log(`hub pid ${hubPid} on port ${port}, RSS ${mib(rssAtStart)} MiB before any agent`);

    // connect the fleet
    const url = `ws://127.0.0.1:${port}/agent`;
    const connectStarted = performance.now();
    const agentChildren = Array.from({ length: options.agentProcesses }, (_, k) => {
      const from = k * perProcess;
      const to = Math.min(options.agents, from + perProcess);
      return spawnRole(["--role", "agents", "--url", url, "--from", String(from), "--to", String(to), "--concurrency", String(options.connectConcurrency)]);
    });
    const agentsUsage = agentChildren.map((child) => new ProcessTreeUsage(child.pid ?? 0, 1000));
    const connectedReplies = await Promise.all(agentChildren.map((child) => nextMessage<AgentsReply>(child, "connected")));
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    const connected = connectedReplies.reduce((sum, r) => sum + r.connected, 0);
    const failed = connectedReplies.reduce((sum, r) => sum + r.failed, 0);
    log(`${connected} agents connected in ${connectSeconds.toFixed(1)} s (${failed} failed${failed ? `: ${connectedReplies.find((r) => r.firstError)?.firstError}` : ""})`);
    const cpuAfterConnect = processCpuSeconds(hubPid) ?? 0;

    // steady state: heartbeats only
    log(`steady state: heartbeats only for ${options.steadySeconds} s (after one heartbeat interval to settle)`);
    await sleep(options.heartbeatMs);
    hub.send({ type: "status" } satisfies HubRequest);
    const heartbeatsBefore = (await nextMessage<Extract<HubReply, { type: "status" }>>(hub, "status")).heartbeats;
    const steadyCpuBefore = processCpuSeconds(hubPid) ?? 0;
    const steadyStarted = performance.now();
    await sleep(options.steadySeconds * 1000);
    const steadyCpu = (processCpuSeconds(hubPid) ?? 0) - steadyCpuBefore;
    const steadyWall = (performance.now() - steadyStarted) / 1000;
    const steadyRss = rssOf(hubPid);
    hub.send({ type: "status" } satisfies HubRequest);
    const steadyStatus = await nextMessage<Extract<HubReply, { type: "status" }>>(hub, "status");
    const hubConnected = steadyStatus.connected;
    const heartbeatRate = (steadyStatus.heartbeats - heartbeatsBefore) / steadyWall;
    log(`steady: hub CPU ${pct(steadyCpu / steadyWall)} of one core, RSS ${mib(steadyRss)} MiB, ${hubConnected} sockets, ${heartbeatRate.toFixed(0)} heartbeats/s handled`);

    // commands: send -> ack round trips, spread over the fleet
    const agentIds = spreadIds(options.agents, options.commands);
    const commandsCpuBefore = processCpuSeconds(hubPid) ?? 0;
    const commandsStarted = performance.now();
    log(`sending ${options.commands} commands at ${options.commandRate}/s`);
    hub.send({ type: "run-commands", count: options.commands, perSecond: options.commandRate, agentIds } satisfies HubRequest);
    const latencyReply = await nextMessage<Extract<HubReply, { type: "latencies" }>>(hub, "latencies");
    const { millis, unacked } = latencyReply;
    const commandsWall = (performance.now() - commandsStarted) / 1000;
    const commandsCpu = (processCpuSeconds(hubPid) ?? 0) - commandsCpuBefore;
    const finalRss = rssOf(hubPid);
    const hubPeak = hubUsage.stop();
    const agentPeaks = agentsUsage.map((u) => u.stop());
    const sorted = [...millis].sort((a, b) => a - b);
    const result = {
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted.at(-1) ?? Number.NaN,
      acked: sorted.length,
      unacked,
      loopDelayMaxMs: latencyReply.loopDelayMaxMs,
      loopDelayP99Ms: latencyReply.loopDelayP99Ms,
      gcPauseMaxMs: latencyReply.gcPauseMaxMs,
      gcPauseTotalMs: latencyReply.gcPauseTotalMs,
    };
    log(`hub event loop delay p99 ${result.loopDelayP99Ms.toFixed(1)} ms, max ${result.loopDelayMaxMs.toFixed(1)} ms; GC pauses max ${result.gcPauseMaxMs.toFixed(1)} ms, total ${result.gcPauseTotalMs.toFixed(0)} ms`);
    log(`round trip p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms (${result.acked} acked, ${unacked} not)`);

    const report = renderReport({
      options,
      connected,
      failed,
      connectSeconds,
      hubConnected,
      rssAtStart,
      steadyRss,
      finalRss,
      peakRss: hubPeak.peakTreeRssBytes,
      connectCpu: cpuAfterConnect - cpuAtStart,
      steadyCpu,
      steadyWall,
      heartbeatRate,
      commandsCpu,
      commandsWall,
      result,
      agentPeakRss: agentPeaks.map((p) => p.peakTreeRssBytes),
      agentCpu: agentPeaks.map((p) => p.cpuSeconds),
      loadBefore,
      loadAfter: loadavg()[0] ?? 0,
    });
    const file = options.out ?? freeReportPath(options.agents);
    mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
    writeFileSync(file, report);
    process.stdout.write(`\n${report}\nreport: ${file}\n`);
  } finally {
    stopAll();
  }
}

interface ReportInput {
  options: Options;
  connected: number;
  failed: number;
  connectSeconds: number;
  hubConnected: number;
  rssAtStart: number;
  steadyRss: number;
  finalRss: number;
  peakRss: number;
  connectCpu: number;
  steadyCpu: number;
  steadyWall: number;
  heartbeatRate: number;
  commandsCpu: number;
  commandsWall: number;
  result: {
    p50: number;
    p99: number;
    max: number;
    acked: number;
    unacked: number;
    loopDelayMaxMs: number;
    loopDelayP99Ms: number;
    gcPauseMaxMs: number;
    gcPauseTotalMs: number;
  };
  agentPeakRss: number[];
  agentCpu: number[];
  loadBefore: number;
  loadAfter: number;
}

function renderReport(r: ReportInput): string {
  const o = r.options;
  const targets = [
    `- p99 round trip under 250 ms: **${r.result.p99 < 250 ? "met" : "missed"}** (${r.result.p99.toFixed(1)} ms)`,
    `- hub RSS under 1 GiB: **${r.peakRss < 1024 ** 3 ? "met" : "missed"}** (peak ${mib(r.peakRss)} MiB)`,
  ];
  return `# Agent hub benchmark, ${o.agents} agents (${new Date().toISOString()})

Machine: ${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), ${mib(totalmem())} MiB RAM, Node ${process.version}.
Load average (1 min): ${r.loadBefore.toFixed(2)} at start, ${r.loadAfter.toFixed(2)} at end (other work on the machine shows up here).

Setup: one hub process (AgentHub + in-memory backend, system clock) on a loopback HTTP server;
${o.agentProcesses} agent process(es) holding ${o.agents} protocol-level agents (TestAgent: hello with a
credential, heartbeat every ${o.heartbeatMs} ms with random phase, ack on receipt). Command round trip:
\`sendCommand\` (outbox enqueue, push) to the hub's \`command-acked\` event, measured in the hub
process; ${o.commands} assign commands at ${o.commandRate}/s, round-robin over the fleet.

| figure | value |
|---|---|
| agents connected | ${r.connected} (${r.failed} failed), ${r.hubConnected} sockets on the hub |
| time to connect the fleet | ${r.connectSeconds.toFixed(1)} s (${o.connectConcurrency} attempts in flight per agent process) |
| hub RSS: before agents / steady / after commands / peak | ${mib(r.rssAtStart)} / ${mib(r.steadyRss)} / ${mib(r.finalRss)} / ${mib(r.peakRss)} MiB |
| hub CPU while the fleet connected | ${r.connectCpu.toFixed(1)} s |
| hub CPU, heartbeats only (${r.heartbeatRate.toFixed(0)} heartbeats/s handled, ${(o.agents / (o.heartbeatMs / 1000)).toFixed(0)} expected) | ${pct(r.steadyCpu / r.steadyWall)} of one core over ${r.steadyWall.toFixed(0)} s |
| hub CPU, heartbeats + commands | ${pct(r.commandsCpu / r.commandsWall)} of one core over ${r.commandsWall.toFixed(0)} s |
| command round trip p50 / p99 / max | ${r.result.p50.toFixed(1)} / ${r.result.p99.toFixed(1)} / ${r.result.max.toFixed(1)} ms |
| commands acked / not acked within 10 s | ${r.result.acked} / ${r.result.unacked} |
| hub event-loop delay during commands, p99 / max | ${r.result.loopDelayP99Ms.toFixed(1)} / ${r.result.loopDelayMaxMs.toFixed(1)} ms |
| hub GC pauses during commands, longest / total | ${r.result.gcPauseMaxMs.toFixed(1)} / ${r.result.gcPauseTotalMs.toFixed(0)} ms |
| agent processes: peak RSS | ${r.agentPeakRss.map((b) => `${mib(b)} MiB`).join(", ")} |
| agent processes: CPU | ${r.agentCpu.map((s) => `${s.toFixed(1)} s`).join(", ")} |

Targets (10,000 agents on this 2-core machine):
${targets.join("\n")}

Command: \`npm run bench:hub -- --agents ${o.agents} --agent-processes ${o.agentProcesses} --heartbeat-ms ${o.heartbeatMs} --steady-s ${o.steadySeconds} --commands ${o.commands} --command-rate ${o.commandRate}\`
`;
}

// ---- helpers ----------------------------------------------------------------------------------

function credentialOf(index: number): string {
  return `bench-credential-${index}`;
}

/** Agents that receive the commands: spread evenly over the whole fleet. */
function spreadIds(agents: number, commands: number): string[] {
  const step = Math.max(1, Math.floor(agents / Math.min(agents, commands)));
  return Array.from({ length: Math.min(agents, commands) }, (_, i) => `agent-${(i * step) % agents}`);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

function rssOf(pid: number): number {
  try {
    const kib = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return Number(kib ?? 0) * 1024;
  } catch {
    return 0;
  }
}

function freeReportPath(agents: number): string {
  const date = new Date().toISOString().slice(0, 10);
  const dir = `${repoRoot}test/bench/results`;
  for (let n = 1; ; n++) {
    const file = `${dir}/hub-${date}-${agents}-agents${n === 1 ? "" : `-${n}`}.md`;
    if (!existsSync(file)) return file;
  }
}

const mib = (bytes: number) => (bytes / 1024 ** 2).toFixed(0);
const pct = (fraction: number) => `${(fraction * 100).toFixed(1)} %`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---- entry ----------------------------------------------------------------------------------------

const roleArgs = parseArgs({
  args: process.argv.slice(2),
  options: {
    role: { type: "string" },
    url: { type: "string" },
    from: { type: "string" },
    to: { type: "string" },
    concurrency: { type: "string" },
    agents: { type: "string" },
    "heartbeat-ms": { type: "string" },
  },
  strict: false,
}).values;

try {
  if (roleArgs.role === "hub") {
    await runHub(Number(roleArgs.agents), Number(roleArgs["heartbeat-ms"]));
  } else if (roleArgs.role === "agents") {
    await runAgents(String(roleArgs.url), Number(roleArgs.from), Number(roleArgs.to), Number(roleArgs.concurrency));
  } else {
    await runParent(parseOptions(process.argv.slice(2)));
  }
} catch (error) {
  log(`failed: ${(error as Error).message}`);
  process.exitCode = 1;
}
