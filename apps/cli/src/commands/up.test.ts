import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import cassandra from "cassandra-driver";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient } from "@devenv/api";
import { loadServerSettings, startControlPlane, type RunningControlPlane } from "@devenv/control-plane";
import { RecordingProvisioner } from "@devenv/fleet/testing";
import { TunnelEndpoint } from "@devenv/agent-runtime";
import { TestAgent } from "@devenv/hub/testing";
import { decodeTunnelFrame, type InstanceView } from "@devenv/protocol";
import { generateDataset } from "@devenv/fixtures";
import { cassandraClient, services, uniqueName } from "@devenv/testing";

// The developer-facing commands against a whole control plane (API, agent hub, tunnel
// relay, job runner) on SQLite: a protocol-level agent plays the instance's host and
// serves its tunnels from the run's real Cassandra.
const devenv = resolve(import.meta.dirname, "../../bin/devenv");
const repo = resolve(import.meta.dirname, "../../../..");
const root = mkdtempSync(join(tmpdir(), "devenv-cli-up-"));
const MiB = 1024 * 1024;
const secret = "cli-up-test-secret-0123456789abcdef";

let server: RunningControlPlane;
const provisioner = new RecordingProvisioner();
const agents: TestAgent[] = [];
const homes: string[] = [];

interface Person {
  home: string;
  token: string;
  port: number;
}
let ada: Person;
let olga: Person;
let adminToken: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function envFor(person: Person, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: person.home,
    XDG_CONFIG_HOME: join(person.home, "config"),
    DEVENV_STATE_DIR: join(person.home, "state"),
    DEVENV_FORWARD_LISTEN: `127.0.0.1:${person.port}`,
    ...extra,
  };
}

function run(person: Person, args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(devenv, args, { encoding: "utf8", env: envFor(person, extra) }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A CLI run the test drives while it goes on: what it has printed so far, and its end. */
function start(person: Person, args: string[]): { stderr(): string; done: Promise<Run> } {
  const child = spawn(devenv, args, { env: envFor(person) });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<Run>((resolveRun) => child.on("close", (code) => resolveRun({ code: code ?? 1, stdout, stderr })));
  return { stderr: () => stderr, done };
}

async function until<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((ready) => probe.listen(0, "127.0.0.1", () => ready()));
  const { port } = probe.address() as { port: number };
  await new Promise((closed) => probe.close(closed));
  return port;
}

/** The host side of a provisioned instance: registers with its join token and serves tunnels to the run's Cassandra. */
async function agentFor(instanceId: string): Promise<TestAgent> {
  const joinToken = (await until("the instance to be provisioned", () => provisioner.provisioned.find((p) => p.instanceId === instanceId))).joinToken;
  const [host, port] = services().cassandra.contactPoint.split(":") as [string, string];
  // tunnel commands may only arrive after welcome, when the endpoint below exists
  const tunnels: { endpoint?: TunnelEndpoint } = {};
  const agent = await TestAgent.connect({
    url: `${server.url.replace(/^http/, "ws")}/agent`,
    auth: { joinToken },
    identity: { hostname: "test-host" },
    agentVersion: "1.2.3",
    onMessage: (message) => {
      if (message.type === "tunnel-open") {
        tunnels.endpoint!.open(message.streamId);
        agent.ack(message.commandId);
      } else if (message.type === "tunnel-close") {
        tunnels.endpoint!.close(message.streamId);
        agent.ack(message.commandId);
      }
    },
  });
  const endpoint = new TunnelEndpoint({ host, port: Number(port), send: (streamId, data) => (agent.sendTunnelData(streamId, data), true), buffered: () => agent.socket.bufferedAmount });
  tunnels.endpoint = endpoint;
  agent.socket.on("message", (data, isBinary) => {
    if (!isBinary) return;
    const frame = decodeTunnelFrame(new Uint8Array(data as Buffer));
    if (frame.ok) endpoint.write(frame.message.streamId, Buffer.from(frame.message.data));
  });
  agents.push(agent);
  agent.heartbeat();
  agent.startHeartbeats(200);
  return agent;
}

/** Plays one restore on the agent, waiting for the CLI to show each step of its progress. */
async function restore(agent: TestAgent, shown: () => string, from: number): Promise<string> {
  const assign = await agent.waitFor((m) => m.type === "assign", 10_000, from);
  if (assign.type !== "assign") throw new Error("expected an assign command");
  agent.ack(assign.commandId);
  agent.lifecycle("downloading");
  agent.send({ type: "progress", assignmentId: assign.assignmentId, phase: "download", bytes: 5 * MiB, totalBytes: 20 * MiB, rows: 0, totalRows: 1000 });
  await until("the download's progress on the CLI", () => /download .*\[#{6}-{18}\]\s+25%/.test(shown()));
  agent.lifecycle("restoring");
  agent.send({ type: "progress", assignmentId: assign.assignmentId, phase: "load", bytes: 20 * MiB, totalBytes: 20 * MiB, rows: 750, totalRows: 1000, rate: 4 * MiB });
  await until("the load's progress on the CLI", () => /load .*\[#{18}-{6}\]\s+75%/.test(shown()));
  agent.send({ type: "result", assignmentId: assign.assignmentId, ok: true, snapshotId: assign.snapshot.id });
  agent.lifecycle("ready");
  return assign.snapshot.id;
}

async function queryThroughForward(port: number): Promise<string> {
  const client = new cassandra.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: services().cassandra.localDataCenter });
  try {
    await client.connect();
    return (await client.execute("SELECT cluster_name FROM system.local")).first()!.get("cluster_name") as string;
  } finally {
    await client.shutdown();
  }
}

async function person(name: string, role: "developer" | "ops"): Promise<Person> {
  const admin = createApiClient({ url: server.url, token: adminToken });
  const created = await admin.auth.users.create.mutate({ name: uniqueName(name), role });
  const who = { home: mkdtempSync(join(root, `${name}-`)), token: created.token.plaintext, port: await freePort() };
  homes.push(who.home);
  const login = await run(who, ["login", "--server", server.url, "--token", who.token]);
  expect(login.code, login.stderr).toBe(0);
  return who;
}

let sourceKeyspace: string;

beforeAll(async () => {
  const out = new PassThrough();
  let printed = "";
  out.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  const settings = loadServerSettings({ env: {}, flags: { dataDir: join(root, "control-plane"), port: 0 } });
  server = await startControlPlane(
    { ...settings, intervals: { ...settings.intervals, heartbeatMs: 500, maintenanceMs: 0 } },
    {
      out,
      provisioners: { byKind: { local: provisioner }, forInstanceKind: () => provisioner },
      env: { DEVENV_SHRINK_SECRET: secret },
      logger: pino({ level: "silent" }),
    },
  );
  adminToken = /Admin token \(shown once, keep it safe\): (\S+)/.exec(printed)![1]!;
  ada = await person("ada", "developer");
  olga = await person("olga", "ops");
  const production = await cassandraClient();
  sourceKeyspace = uniqueName("prod");
  await generateDataset(production, { keyspace: sourceKeyspace, orgs: 4, leadsPerOrg: 5, days: 2, eventsPerDay: 3, asOf: "2026-11-20", seed: "cli", concurrency: 16 });
  await production.shutdown();
}, 120_000);

afterAll(async () => {
  for (const home of homes) await run({ home, token: "", port: 0 }, ["forward", "stop"]);
  await Promise.all(agents.map((agent) => agent.close()));
  await server?.close();
  const production = await cassandraClient();
  await production.execute(`DROP KEYSPACE IF EXISTS ${sourceKeyspace}`).finally(() => production.shutdown());
  rmSync(root, { recursive: true, force: true });
}, 60_000);

describe("devenv snapshots and jobs against a control plane", () => {
  it("makes a snapshot with a real shrink job, follows its log, lists, shows, pins and guards deletion by role", async () => {
    const created = await run(olga, ["snapshots", "create", "--source-keyspace", sourceKeyspace, "--rules", join(repo, "examples/leads-rules.yaml"), "--contact-points", services().cassandra.contactPoint, "--id", "cli-snap-1", "--wait", "--json"]);
    expect(created.code, created.stderr).toBe(0);
    const { job, snapshotId } = JSON.parse(created.stdout) as { job: { id: string; state: string }; snapshotId: string };
    expect(job.state).toBe("succeeded");
    expect(snapshotId).toBe("cli-snap-1");

    const jobs = await run(olga, ["jobs", "ls", "--kind", "shrink", "--json"]);
    expect((JSON.parse(jobs.stdout) as { id: string }[]).map((j) => j.id)).toContain(job.id);
    const logs = await run(olga, ["jobs", "logs", job.id]);
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain(`shrinking ${sourceKeyspace}`);
    expect(logs.stdout).toContain(`job ${job.id} (shrink) succeeded`);
    expect((await run(ada, ["jobs", "ls"])).code).toBe(1); // jobs are for ops
    const badState = await run(olga, ["jobs", "ls", "--state", "sleeping"]);
    expect(badState.code).toBe(2);
    expect(badState.stderr).toContain("--state must be one of queued, running, succeeded, failed, cancelled");

    const list = await run(ada, ["snapshots", "ls", "--json"]);
    expect((JSON.parse(list.stdout) as { id: string; status: string }[]).find((s) => s.id === "cli-snap-1")?.status).toBe("ready");
    const table = await run(ada, ["snapshots", "ls"]);
    expect(table.stdout).toMatch(/^ID\s+STATUS\s+PINNED\s+SIZE\s+ROWS/);
    expect(table.stdout).toMatch(/cli-snap-1\s+ready/);
    const shown = await run(ada, ["snapshots", "show", "cli-snap-1", "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({ snapshot: { id: "cli-snap-1", status: "ready" }, usedBy: [] });
    expect((await run(ada, ["snapshots", "show", "no-such-snapshot"])).code).toBe(1);

    expect(JSON.parse((await run(olga, ["snapshots", "pin", "cli-snap-1", "--json"])).stdout)).toMatchObject({ pinned: true });
    const refused = await run(ada, ["snapshots", "pin", "cli-snap-1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.split("\n")[0]).toMatch(/^devenv: /);
    const pinnedDelete = await run(olga, ["snapshots", "delete", "cli-snap-1"], { DEVENV_TOKEN: adminToken });
    expect(pinnedDelete.code).toBe(1);
    expect(JSON.parse((await run(olga, ["snapshots", "unpin", "cli-snap-1", "--json"])).stdout)).toMatchObject({ pinned: false });

    const badKeyspace = await run(olga, ["snapshots", "create", "--source-keyspace", "no spaces", "--rules", "x.yaml"]);
    expect(badKeyspace.code).toBe(2);
    expect(badKeyspace.stderr).toContain("a Cassandra keyspace name");
  });
});

describe("devenv up, status, ls, use, fleet, refresh and down", () => {
  let instance: InstanceView;

  it("up shows the host coming up and the restore's progress, ends ready and points the forward at a queryable database", async () => {
    const up = start(ada, ["up", "--snapshot", "latest", "--ttl", "8h"]);
    const requested = await until("the instance", async () => (await server.store.instances.list({ kind: "personal" }))[0]);
    const agent = await agentFor(requested.id);
    expect(await restore(agent, up.stderr, 0)).toBe("cli-snap-1");
    const result = await up.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("state: registering");
    expect(result.stderr).toContain("state: restoring");
    expect(result.stderr).toContain("state: ready");
    expect(result.stdout).toContain(`instance ${requested.id} is ready with snapshot cli-snap-1`);
    const tunnel = `${server.url.replace(/^http/, "ws")}/tunnel/${requested.id}`;
    expect(result.stdout).toContain(`127.0.0.1:${ada.port} → tunnel:${tunnel}`);
    instance = (await server.store.instances.get(requested.id)) as InstanceView;
    expect(Math.abs(Date.parse(instance.ttlExpiresAt!) - Date.parse(instance.createdAt) - 8 * 3_600_000)).toBeLessThan(1_000);

    // the database answers on the developer's localhost, through the control plane's tunnel
    const direct = await cassandraClient();
    const clusterName = (await direct.execute("SELECT cluster_name FROM system.local")).first()!.get("cluster_name") as string;
    await direct.shutdown();
    expect(await queryThroughForward(ada.port)).toBe(clusterName);

    const status = await run(ada, ["status", "--json"]);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ server: server.url, forward: { state: "running", route: { kind: "tunnel", url: tunnel } }, instances: [{ id: instance.id, state: "ready" }] });
    const human = await run(ada, ["status"]);
    expect(human.stdout).toContain(`forward:       127.0.0.1:${ada.port} → tunnel:${tunnel} (${instance.id})`);
    expect(human.stdout).toMatch(new RegExp(`${instance.id}\\s+personal\\s+ready\\s+cli-snap-1`));
    const ls = await run(ada, ["ls", "--json"]);
    expect((JSON.parse(ls.stdout) as InstanceView[]).map((i) => [i.id, i.state])).toEqual([[instance.id, "ready"]]);
  });

  it("use mine and use ID switch the forward through the control plane; unknown names fail clearly", async () => {
    const mine = await run(ada, ["use", "mine", "--json"]);
    expect(mine.code, mine.stderr).toBe(0);
    expect(JSON.parse(mine.stdout)).toMatchObject({ route: { kind: "tunnel", url: `${server.url.replace(/^http/, "ws")}/tunnel/mine` } });
    expect(await queryThroughForward(ada.port)).toBeTruthy();
    const byId = await run(ada, ["use", instance.id]);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toContain(`/tunnel/${instance.id}`);
    const unknown = await run(ada, ["use", "no-such-instance"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^devenv: instance no-such-instance not found/);
    const noneOfOlgas = await run(olga, ["use", "mine"]);
    expect(noneOfOlgas.code).toBe(1);
    expect(noneOfOlgas.stderr).toContain("you have no ready personal instance");
  });

  it("fleet shows ops every agent with state, health and snapshot; developers are refused", async () => {
    const fleet = await run(olga, ["fleet", "--json"]);
    expect(fleet.code, fleet.stderr).toBe(0);
    const row = (JSON.parse(fleet.stdout) as { instances: { instance: InstanceView; agent: { liveness: string; state: string } | null }[] }).instances.find((r) => r.instance.id === instance.id);
    expect(row).toMatchObject({ instance: { state: "ready", currentSnapshotId: "cli-snap-1" }, agent: { liveness: "healthy", state: "ready" } });
    const human = await run(olga, ["fleet"]);
    expect(human.stdout).toMatch(new RegExp(`${instance.id}\\s+\\S+\\s+personal\\s+ready\\s+ready \\(test-host v1\\.2\\.3\\)\\s+healthy\\s+cassandra up, disk 50% free`));
    const refused = await run(ada, ["fleet"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);

    // the personal instance has run a little: instance-hours per owner, as JSON and as a table
    const cost = await run(olga, ["fleet", "--cost", "--since", "1d", "--json"]);
    expect(cost.code, cost.stderr).toBe(0);
    const figures = JSON.parse(cost.stdout) as { rows: { ownerName: string | null; instances: number; hours: number }[]; totalHours: number };
    expect(figures.rows.find((r) => r.ownerName?.startsWith("ada"))).toMatchObject({ instances: 1 });
    const table = await run(olga, ["fleet", "--cost"]);
    expect(table.stdout).toMatch(/instance-hours from .* in total\n\nOWNER\s+MARKET\s+INSTANCES\s+HOURS\n[\s\S]*ada\S*\s+\S+\s+1\s+\d+\.\d\d/);
    const badSince = await run(olga, ["fleet", "--cost", "--since", "last week"]);
    expect(badSince).toMatchObject({ code: 2, stderr: expect.stringMatching(/--since: expected Nd/) });
  });

  it("refresh restores the newest snapshot on my instance, showing progress until it is ready again", async () => {
    await server.store.snapshots.create({ id: "cli-snap-2", location: "test", sourceDescription: "newer", status: "ready", sizeBytes: 10, rows: 1, tablesCount: 1 });
    const agent = agents[0]!;
    const from = agent.received.length;
    const refresh = start(ada, ["refresh"]);
    expect(await restore(agent, refresh.stderr, from)).toBe("cli-snap-2");
    const result = await refresh.done;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("state: refreshing");
    expect(result.stdout).toContain(`instance ${instance.id} is ready with snapshot cli-snap-2`);
  });

  it("up fails with the provisioner's reason (exit 1); --no-wait --json returns at once; down ends my instances", async () => {
    provisioner.failNext("no spot capacity in eu-west-1a");
    const failed = await run(ada, ["up", "--no-forward"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/devenv: instance \S+ failed: .*no spot capacity in eu-west-1a/);

    const quick = await run(ada, ["up", "--no-wait", "--json"]);
    expect(quick.code, quick.stderr).toBe(0);
    const queued = (JSON.parse(quick.stdout) as { instance: InstanceView }).instance;
    expect(queued.state).toMatch(/requested|provisioning/);

    const ambiguous = await run(ada, ["down"]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain("name the one to end");
    const ended = await run(ada, ["down", instance.id]);
    expect(ended.code, ended.stderr).toBe(0);
    expect(ended.stdout).toContain(`instance ${instance.id} is draining`);
    expect(ended.stdout).toContain("the forward still points at it");
    const byJson = await run(ada, ["down", queued.id, "--json"]);
    expect(JSON.parse(byJson.stdout)).toMatchObject({ id: queued.id, state: "draining" });
    const notMine = await run(olga, ["down", queued.id]);
    expect(notMine.code).toBe(1);
  });
});
