import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { pino } from "pino";
import { createApiClient, type ApiClient } from "@devenv/api";
import { loadServerSettings, startControlPlane, type RunningControlPlane } from "@devenv/control-plane";
import { freePort, startCassandraNode, stopCassandraNode } from "@devenv/cassandra-node";
import { ForwardDaemon } from "@devenv/forward";
import { generateDataset } from "@devenv/fixtures";
import { connectCassandra } from "@devenv/snapshot";
import { CliError } from "../errors.ts";
import type { CommandContext } from "../program.ts";
import { positiveInt } from "./options.ts";

const repo = fileURLToPath(new URL("../../../../", import.meta.url));

interface DemoFlags {
  workDir?: string;
  keep?: boolean;
  down?: boolean;
  port: number;
}

/**
 * `devenv demo`: the whole product on this machine, with timings. A Cassandra node plays
 * production, the control plane runs on its embedded defaults, and two instances (a
 * personal and a shared one) are real agents with their own Cassandra nodes.
 */
export function demoCommand(context: CommandContext): Command {
  return new Command("demo")
    .description("run the main job end to end on this machine: production data -> shrink -> instances -> localhost, with timings")
    .option("--work-dir <dir>", "where the demo keeps its nodes and data (default: <state-dir>/demo)")
    .option("--port <port>", "the localhost port developers' clients use", positiveInt("--port", 65535), 19042)
    .option("--keep", "leave everything running at the end (stop it later with --down)")
    .option("--down", "stop and delete what a kept demo left running")
    .addHelpText("after", "\nExamples:\n  npm run demo              # set up what is missing, then run the demo\n  npx devenv demo --keep    # keep the nodes, control plane data and forward\n  npx devenv demo --down    # clean up after --keep\n")
    .action(async (flags: DemoFlags) => {
      const workDir = flags.workDir ?? join(context.config().stateDir, "demo");
      const out = context.output();
      if (flags.down) {
        await tearDown(workDir, (line) => out.line(line));
        return;
      }
      if (existsSync(join(workDir, "control-plane"))) throw new CliError("conflict", `a demo already lives in ${workDir}: run devenv demo --down first`);
      await runDemo({ workDir, port: flags.port, keep: flags.keep === true, log: (line) => out.line(line), cacheDir: context.config().cacheDir });
    });
}

async function runDemo(options: { workDir: string; port: number; keep: boolean; log: (line: string) => void; cacheDir: string }): Promise<void> {
  const { workDir, log } = options;
  mkdirSync(workDir, { recursive: true });
  const timings: [string, number][] = [];
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    log(`\n▶ ${name}`);
    const started = performance.now();
    const result = await work();
    const seconds = (performance.now() - started) / 1000;
    timings.push([name, seconds]);
    log(`  done in ${seconds.toFixed(1)} s`);
    return result;
  };
  let cleanUp = true;
  let forward: ForwardDaemon | undefined;
  let server: RunningControlPlane | undefined;
  let api: ApiClient | undefined;
  try {
    const prod = await step("start a Cassandra node playing production", async () => {
      const node = await startCassandraNode({ name: "demo-production", dataDir: join(workDir, "production"), nativePort: await freePort("127.0.0.1"), heap: "768M", cacheDir: options.cacheDir });
      log(`  production Cassandra ${node.releaseVersion ?? ""} on ${node.contactPoint}`);
      return node;
    });
    await step("generate production-like data (customers, sandboxes, PII everywhere)", async () => {
      const client = await connectCassandra({ contactPoints: [prod.contactPoint], localDataCenter: prod.localDataCenter });
      try {
        const result = await generateDataset(client, { keyspace: "leads", orgs: 20, leadsPerOrg: 40, days: 14, eventsPerDay: 20, seed: "demo" });
        log(`  ${result.totalRows.toLocaleString("en-US")} rows in keyspace leads (${result.orgs} orgs)`);
      } finally {
        await client.shutdown();
      }
    });
    server = await step("start the control plane (SQLite, local blob store, local provisioner)", async () => {
      // the embedded defaults, in the demo's own directory
      const settings = loadServerSettings({ env: {}, flags: { dataDir: join(workDir, "control-plane"), port: 0 } });
      const running = await startControlPlane({ ...settings, intervals: { ...settings.intervals, heartbeatMs: 2_000 } }, {
        // the demo uses the first-run admin token itself; it is not news to print
        out: new PassThrough(),
        agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
        env: { DEVENV_SHRINK_SECRET: randomBytes(32).toString("hex") },
        // the story goes to the terminal, the control plane's JSON log to a file
        logger: pino({ base: { service: "devenv-control-plane" } }, pino.destination({ dest: join(workDir, "control-plane.log"), mkdir: true })),
      });
      log(`  control plane on ${running.url} (log: ${join(workDir, "control-plane.log")})`);
      return running;
    });
    const token = server.firstRunAdminToken;
    if (!token) throw new CliError("failed", "the control plane created no admin token: its data dir was not fresh");
    const client = createApiClient({ url: server.url, token });
    api = client;
    const snapshotId = await step("shrink production into a dev-safe snapshot (rules, scrub, audit)", async () => {
      const { job } = await client.snapshots.create.mutate({
        shrink: { source: { contactPoints: [prod.contactPoint], localDataCenter: prod.localDataCenter, keyspace: "leads" }, rulesFile: join(repo, "examples/leads-rules.yaml") },
      });
      const done = await poll(async () => {
        const { job: current } = await client.jobs.show.query({ id: job.id });
        if (current.state === "failed" || current.state === "cancelled") throw new CliError("failed", `the shrink job ${current.state}: ${current.error ?? ""}`);
        return current.state === "succeeded" ? current : undefined;
      }, 600_000);
      const id = (done.result as { snapshotId: string }).snapshotId;
      const { snapshot } = await client.snapshots.show.query({ id });
      log(`  snapshot ${id}: ${snapshot.rows.toLocaleString("en-US")} rows, ${Math.round(snapshot.sizeBytes / 1024)} KiB, audit clean`);
      return id;
    });
    const [mine, shared] = await step("bring up a personal and a shared instance, each restored from the snapshot", async () => {
      const [personal, common] = await Promise.all([
        client.instances.up.mutate({ kind: "personal", snapshotId }),
        client.instances.up.mutate({ kind: "shared", snapshotId }),
      ]);
      const seen = new Map<string, string>();
      const ready = async (id: string, label: string) =>
        poll(async () => {
          const { instance } = await client.instances.show.query({ id });
          if (seen.get(id) !== instance.state) {
            seen.set(id, instance.state);
            log(`  ${label} instance ${id.slice(0, 8)}: ${instance.state}`);
          }
          if (instance.state === "failed") throw new CliError("failed", `${label} instance failed: ${instance.stateDetail ?? ""}`);
          return instance.state === "ready" ? instance : undefined;
        }, 600_000);
      return Promise.all([ready(personal.instance.id, "personal"), ready(common.instance.id, "shared")]);
    });
    const tunnel = (target: string) => ({ kind: "tunnel" as const, url: `${server!.url.replace(/^http/, "ws")}/tunnel/${target}`, token });
    forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: options.port }, route: tunnel("mine") });
    const { port } = await forward.listen();
    const ask = async (label: string) => {
      const dev = await connectCassandra({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: "datacenter1" });
      try {
        const host = (await dev.execute("SELECT host_id FROM system.local")).first().get("host_id") as unknown;
        const leads = (await dev.execute("SELECT count(*) FROM devenv.leads")).first().get(0) as unknown;
        const user = (await dev.execute("SELECT name, email FROM devenv.users LIMIT 1")).first();
        log(`  localhost:${port} -> ${label} (node ${String(host).slice(0, 8)}): ${String(leads)} leads; a user: ${String(user?.get("name"))} <${String(user?.get("email"))}>`);
      } finally {
        await dev.shutdown();
      }
    };
    await step(`query the personal database through localhost:${port}`, () => ask(`mine (${mine.id.slice(0, 8)})`));
    await step("devenv use shared: same port, the shared database", async () => {
      forward!.setRoute(tunnel("shared"));
      await ask(`shared (${shared.id.slice(0, 8)})`);
    });
    await step("devenv use mine: and back", async () => {
      forward!.setRoute(tunnel("mine"));
      await ask(`mine (${mine.id.slice(0, 8)})`);
    });
    log("\nSummary");
    for (const [name, seconds] of timings) log(`  ${seconds.toFixed(1).padStart(7)} s  ${name}`);
    log(`  ${timings.reduce((n, [, s]) => n + s, 0).toFixed(1).padStart(7)} s  total`);
    if (options.keep) {
      cleanUp = false;
      log(`\nKept running: control plane ${server.url} (admin token ${token}), forward on localhost:${port}.`);
      log("Press Ctrl-C to stop the control plane and the forward; nodes and instances stay until `devenv demo --down`.");
      await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
    }
  } finally {
    await forward?.close().catch(() => {});
    if (cleanUp && api) {
      log("\ncleaning up…");
      for (const instance of await api.instances.list.query({}).catch(() => [])) {
        if (instance.state !== "terminated") await api.instances.down.mutate({ id: instance.id }).catch(() => {});
      }
      await server?.instances.settled();
    }
    await server?.close().catch(() => {});
    if (cleanUp) await tearDown(workDir, log);
  }
}

/** Stops every agent and Cassandra node the demo started and deletes its files. */
async function tearDown(workDir: string, log: (line: string) => void): Promise<void> {
  if (!existsSync(workDir)) {
    log(`nothing to clean up in ${workDir}`);
    return;
  }
  const instances = join(workDir, "control-plane", "instances");
  for (const id of existsSync(instances) ? readdirSync(instances) : []) {
    const pidFile = join(instances, id, "agent.pid");
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
      } catch {
        // already gone
      }
    }
    await stopCassandraNode(join(instances, id, "cassandra")).catch(() => {});
  }
  await stopCassandraNode(join(workDir, "production")).catch(() => {});
  rmSync(workDir, { recursive: true, force: true });
  log(`stopped the demo's nodes and agents, removed ${workDir}`);
}

async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new CliError("failed", `gave up after ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
