import type cassandra from "cassandra-driver";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@devenv/cassandra-node";
import { generateDataset } from "@devenv/fixtures";
import { LocalDirStore } from "@devenv/snapshot";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { ChunkGate } from "../harness/chunk-gate.ts";
import { exampleShrink, jobResult, startTestControlPlane, stopTestControlPlane, until, type TestControlPlane } from "../harness/control-plane.ts";
import { DeveloperView, servedOrgs, servedRowCounts, snapshotContents, snapshotOrgs, type SnapshotContents } from "../harness/snapshot-contents.ts";

// The agent of a developer's instance is killed (SIGKILL) twice while it restores a new
// snapshot over the one it serves: once while it downloads, once while it loads. The
// control plane's supervisor starts it again each time with the same state dir; it
// resumes from its chunk cache and restore journal and ends on the new snapshot. Seen
// from the developer's localhost the whole time: the old data, whole, until the download
// is complete (restore touches the keyspace only after every chunk is there and verified),
// then exactly the new data.
const repo = resolve(import.meta.dirname, "../..");

let dir: string;
let production: cassandra.Client;
let sources: string[] = [];
let gate: ChunkGate;
let plane: TestControlPlane;
let view: DeveloperView | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-agent-kill-"));
  production = await cassandraClient();
  sources = [uniqueName("kill_a"), uniqueName("kill_b")];
  // B is the bigger production: more organisations, leads and events
  await generateDataset(production, { keyspace: sources[0]!, orgs: 6, leadsPerOrg: 10, days: 3, eventsPerDay: 5, asOf: "2026-11-20", seed: "kill-a", concurrency: 32 });
  await generateDataset(production, { keyspace: sources[1]!, orgs: 14, leadsPerOrg: 40, days: 3, eventsPerDay: 20, asOf: "2026-11-20", seed: "kill-b", concurrency: 32 });
  const port = await freePort("127.0.0.1");
  // agents fetch chunks through the gate: the test decides when a download may finish
  gate = await ChunkGate.start(`http://127.0.0.1:${port}`);
  plane = await startTestControlPlane({
    dataDir: join(dir, "control-plane"),
    port,
    publicUrl: gate.url,
    agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
    agentSupervisionIntervalMs: 300,
    env: { DEVENV_SHRINK_SECRET: "agent-kill-secret-0123456789abcdef" },
  });
}, 240_000);

afterAll(async () => {
  await view?.close();
  await stopTestControlPlane(plane);
  await gate?.close();
  for (const source of sources) await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("an agent killed during a restore", () => {
  it("is restarted by the control plane, resumes, and ends on the new snapshot; localhost never sees half of it", async () => {
    const { api, server, token } = plane;
    const { contactPoint, localDataCenter } = services().cassandra;
    const blobs = new LocalDirStore(join(dir, "control-plane", "blobs"));
    const shrink = async (source: string): Promise<SnapshotContents & { id: string }> => {
      const { job } = await api.snapshots.create.mutate({ shrink: exampleShrink(repo, contactPoint, localDataCenter, source, "2026-11-21T00:00:00Z") });
      const { snapshotId } = await jobResult<{ snapshotId: string }>(api, job.id);
      return { id: snapshotId, ...(await snapshotContents(blobs, snapshotId)) };
    };
    const a = await shrink(sources[0]!);
    const b = await shrink(sources[1]!);
    expect(b.manifest.totals.rows).toBeGreaterThan(2 * a.manifest.totals.rows);
    expect(await snapshotOrgs(b)).not.toEqual(await snapshotOrgs(a));

    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId: a.id });
    const show = async () => api.instances.show.query({ id: instance.id });
    await until("the instance on A", async () => {
      const { instance: shown } = await show();
      if (shown.state === "failed") throw new Error(`instance failed: ${shown.stateDetail}`);
      return shown.state === "ready" && shown.currentSnapshotId === a.id ? true : undefined;
    }, 240_000);

    view = new DeveloperView(server, token);
    await view.listen();
    const seesExactly = (snapshot: SnapshotContents) =>
      view!.query(async (client) => {
        expect(await servedRowCounts(client, "devenv", snapshot)).toEqual(snapshot.rowCounts);
        expect(await servedOrgs(client, "devenv")).toEqual(await snapshotOrgs(snapshot));
      });
    await seesExactly(a);

    const instanceDir = join(dir, "control-plane", "instances", instance.id);
    const agentPid = () => Number(readFileSync(join(instanceDir, "agent.pid"), "utf8"));
    const agentRunning = (pid: number) => existsSync(`/proc/${pid}`) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(join(instanceDir, "agent"));
    const killAgent = async () => {
      const pid = agentPid();
      process.kill(pid, "SIGKILL");
      return pid;
    };
    const restartedAfter = (killed: number) =>
      until("the supervisor to start the agent again", async () => {
        const pid = agentPid();
        return pid !== killed && agentRunning(pid) ? pid : undefined;
      }, 60_000, 100);

    // B is assigned; two chunks may arrive, the rest wait at the gate
    gate.hold(2);
    const forA = gate.requests.length;
    const servedForB = () => gate.requests.slice(forA).filter((r) => r.served).map((r) => r.sha256);
    await api.instances.assign.mutate({ id: instance.id, snapshotId: b.id });
    await until("B's download to stall at the gate", async () => {
      const progress = (await show()).latestAssignment?.progress;
      return progress?.phase === "download" && gate.held > 0 && servedForB().length === 2 ? true : undefined;
    }, 120_000, 200);
    expect((await show()).instance.state).toBe("refreshing");
    await seesExactly(a);

    // kill -9 in the download phase
    const servedBeforeKill = servedForB();
    const killedWhileDownloading = await killAgent();
    const killedAt = Date.now();
    await restartedAfter(killedWhileDownloading);
    await until("the restarted agent to take up B's download", async () => (gate.requests.some((r) => r.at > killedAt) ? true : undefined), 60_000, 100);
    // the restarted agent serves the tunnel again, and A is still whole
    await until("localhost to answer again", () => view!.query(async () => true).catch(() => undefined), 60_000, 500);
    await seesExactly(a);

    // kill -9 in the load phase, once the journal says B's schema replaced A's
    const journal = join(instanceDir, "agent", "restore", "journals", "devenv.ndjson");
    gate.open();
    await until("B's load to begin", async () => (existsSync(journal) && readFileSync(journal, "utf8").includes('"schemaCreated":true') ? true : undefined), 120_000, 5);
    const killedWhileLoading = await killAgent();
    await restartedAfter(killedWhileLoading);
    expect(existsSync(journal)).toBe(true);

    const done = await until("the instance on B", async () => {
      const shown = await show();
      if (shown.instance.state === "failed" || shown.latestAssignment?.state === "failed") throw new Error(`restore failed: ${shown.latestAssignment?.error ?? shown.instance.stateDetail}`);
      return shown.instance.state === "ready" && shown.instance.currentSnapshotId === b.id ? shown : undefined;
    }, 180_000);
    expect(done.latestAssignment?.state).toBe("succeeded");
    await seesExactly(b);

    // resumed, not started over: no chunk that had arrived was fetched again, the load went on from its journal
    const fetchedAfterKill = gate.requests.filter((r) => r.at > killedAt).map((r) => r.sha256);
    expect(fetchedAfterKill.filter((sha) => servedBeforeKill.includes(sha))).toEqual([]);
    const log = readFileSync(join(instanceDir, "agent.log"), "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log.filter((l) => l.msg === "resuming unfinished assignments")).toHaveLength(2);
    expect(log.filter((l) => l.msg === "restore done").at(-1)).toMatchObject({ resumed: true });
    expect(existsSync(journal)).toBe(false);
    const restarts = await server.store.audit.list({ action: "instance.agent-restarted", subject: `instance:${instance.id}` });
    expect(restarts.map((e) => e.detail?.previousPid).sort()).toEqual([killedWhileDownloading, killedWhileLoading].sort());
  }, 600_000);
});
