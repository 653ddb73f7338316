import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AgentLifecycleState, ResultMessage } from "@devenv/protocol";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { exportTestSnapshot, rowsOf, startHubServer, startNotifyReceiver, startSnapshotTestServer, waitFor } from "@devenv/agent-runtime/testing";
import type { HubServer, NotifyReceiver, SnapshotTestServer } from "@devenv/agent-runtime/testing";

const agentBin = resolve(import.meta.dirname, "../bin/devenv-agent");

/** Resident set size of a process in MiB, from /proc. */
function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : 0;
}

describe("the agent process (bin/devenv-agent)", () => {
  let client: cassandra.Client;
  let dir: string;
  let hub: HubServer;
  let snapshots: SnapshotTestServer;
  let notify: NotifyReceiver;
  let source: string;
  const children: ChildProcess[] = [];
  const stateDir = () => join(dir, "state");

  beforeAll(async () => {
    client = await cassandraClient();
    dir = mkdtempSync(join(tmpdir(), "devenv-agent-process-"));
    source = await exportTestSnapshot(client, { storeDir: join(dir, "store"), snapshotId: "nightly", items: 6_000, tallies: 1_000, chunkCount: 8 });
    snapshots = await startSnapshotTestServer(join(dir, "store"));
    hub = await startHubServer();
    notify = await startNotifyReceiver(dir);
    writeFileSync(join(dir, "agent.json"), JSON.stringify({ provider: "local", spotPollIntervalMs: 1_000 }));
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await hub?.stop();
    await snapshots?.close();
    await notify?.close();
    await client?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function spawnAgent(joinToken: string): { child: ChildProcess; output: () => string } {
    const child = spawn(
      agentBin,
      [
        "--control-plane-url", hub.url,
        "--join-token", joinToken,
        "--state-dir", stateDir(),
        "--cassandra-contact-point", services().cassandra.contactPoint,
        "--cassandra-data-center", services().cassandra.localDataCenter,
        "--data-volume", dir,
        "--load-path", "cql",
        "--restore-chunk-concurrency", "1",
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NOTIFY_SOCKET: notify.socketPath, WATCHDOG_USEC: "1000000", DEVENV_AGENT_CONFIG: join(dir, "agent.json") } },
    );
    children.push(child);
    let output = "";
    child.stdout!.on("data", (data: Buffer) => (output += data.toString()));
    child.stderr!.on("data", (data: Buffer) => (output += data.toString()));
    return { child, output: () => output };
  }

  const lifecycleOf = (agentId: string): AgentLifecycleState[] => hub.backend.record(agentId).lifecycle.map((l) => l.state);
  const resultsOf = (assignmentId: string): ResultMessage[] =>
    hub.events.filter((e) => e.name === "agent-result").map((e) => (e.payload as { result: ResultMessage }).result).filter((r) => r.assignmentId === assignmentId);

  it("boots under a NOTIFY_SOCKET, survives kill -9 mid-restore, resumes with identical data and stops on SIGTERM", async () => {
    const joinToken = hub.backend.issueJoinToken("host-1");
    const first = spawnAgent(joinToken);
    await waitFor("READY=1", () => {
      if (first.child.exitCode !== null) throw new Error(`the agent exited with ${first.child.exitCode}`);
      return notify.messages.includes("READY=1\n");
    }, 30_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${first.output()}`);
    });
    await waitFor("two watchdog pings", () => notify.messages.filter((m) => m === "WATCHDOG=1\n").length >= 2, 5_000);
    expect(notify.messages).toContain("STATUS=booting\n");
    expect(notify.messages.indexOf("STATUS=idle\n")).toBeLessThan(notify.messages.indexOf("READY=1\n"));
    await new Promise((r) => setTimeout(r, 1_000));
    const idleRss = rssMiB(first.child.pid!);

    const target = uniqueName("dst");
    const journal = join(stateDir(), "restore", "journals", `${target}.ndjson`);
    await hub.hub.sendCommand("host-1", { type: "assign", assignmentId: "a-1", idempotencyKey: "k-1", snapshot: snapshots.locationOf("nightly"), targetKeyspace: target });
    // kill once a few chunks are journalled as loaded, most not
    let restoreRss = 0;
    await waitFor(
      "two chunks loaded",
      () => {
        restoreRss = Math.max(restoreRss, rssMiB(first.child.pid!));
        const lines = existsSync(journal) ? readFileSync(journal, "utf8").trim().split("\n").length : 0;
        if (resultsOf("a-1").length > 0) throw new Error("the restore finished before it could be killed");
        return lines >= 4;
      },
      60_000,
      5,
    );
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.once("exit", r));
    expect(resultsOf("a-1")).toEqual([]);
    expect(existsSync(journal)).toBe(true);

    // the join token is spent: the restarted agent comes back on its stored credential
    const second = spawnAgent(joinToken);
    const [result] = await waitFor("the resumed restore's result", () => resultsOf("a-1").length > 0 && resultsOf("a-1"), 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${second.output()}`);
    });
    expect(result).toEqual({ type: "result", assignmentId: "a-1", snapshotId: "nightly", ok: true });
    // the resumed restore ran before the new session opened: its transitions were flushed, in order, after welcome
    const afterRestart = lifecycleOf("host-1").slice(lifecycleOf("host-1").lastIndexOf("booting"));
    expect(afterRestart).toEqual(["booting", "registering", "downloading", "restoring", "ready"]);
    expect(second.output()).toMatch(/"msg":"restore done".*"resumed":true/);
    expect(await rowsOf(client, target, "items")).toEqual(await rowsOf(client, source, "items"));
    expect(await rowsOf(client, target, "tallies")).toEqual(await rowsOf(client, source, "tallies"));
    expect(existsSync(journal)).toBe(false);

    // a second restore from the warm chunk cache, for the memory figure
    const again = uniqueName("dst");
    const sampling = setInterval(() => (restoreRss = Math.max(restoreRss, rssMiB(second.child.pid!))), 10);
    await hub.hub.sendCommand("host-1", { type: "assign", assignmentId: "a-2", idempotencyKey: "k-2", snapshot: snapshots.locationOf("nightly"), targetKeyspace: again });
    await waitFor("the second result", () => resultsOf("a-2").length > 0, 60_000);
    clearInterval(sampling);
    expect(resultsOf("a-2")[0]?.ok).toBe(true);
    process.stderr.write(`[agent rss] idle ${idleRss.toFixed(1)} MiB, during restore up to ${restoreRss.toFixed(1)} MiB (7,000 rows, 16 chunks)\n`);

    const exited = new Promise<number | null>((r) => second.child.once("exit", (code) => r(code)));
    second.child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(lifecycleOf("host-1").slice(-2)).toEqual(["draining", "stopped"]);
    expect(notify.messages).toContain("STOPPING=1\n");
    expect(notify.messages.at(-1)).toBe("STATUS=stopped\n");
  });
});
