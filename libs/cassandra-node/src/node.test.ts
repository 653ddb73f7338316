import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import { services } from "@devenv/testing";
import { afterAll, describe, expect, it } from "vitest";
import { queryReleaseVersion } from "./cql-probe.ts";
import { CassandraNodeError } from "./errors.ts";
import { cassandraNodeStatus, startCassandraNode, stopCassandraNode } from "./node.ts";
import { nodeRecordFile, writeNodeRecord } from "./node-state.ts";
import { freePort } from "./ports.ts";
import { readProcess } from "./processes.ts";

const scratch = mkdtempSync(join(tmpdir(), "devenv-node-test-"));
let dirs = 0;
const tempDataDir = () => join(scratch, `node-${++dirs}`);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function failure(promise: Promise<unknown>): Promise<CassandraNodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CassandraNodeError);
  return error as CassandraNodeError;
}

/** A stand-in `java` that answers the version probe like Java 17, then runs `body`. */
function fakeJava(name: string, body: string): string {
  const path = join(scratch, name);
  writeFileSync(path, `#!/bin/sh\nif [ "$1" = "-version" ]; then echo 'openjdk version "17.0.99"' >&2; exit 0; fi\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

describe("a second node beside the run's shared one", () => {
  it("answers CQL next to the shared node, and stopping it leaves no process behind", async () => {
    const shared = services().cassandra;
    const dataDir = tempDataDir();
    const nativePort = await freePort("127.0.0.1");
    const node = await startCassandraNode({ name: "second", dataDir, nativePort, heap: "512M" }, { deadlineMs: 120_000 });
    try {
      expect(node).toMatchObject({ contactPoint: `127.0.0.1:${nativePort}`, alreadyRunning: false, localDataCenter: "datacenter1" });
      expect(node.releaseVersion).toBe(node.version);
      expect(await queryReleaseVersion(shared.contactPoint, shared.localDataCenter)).toMatch(/^5\.0\./);

      // DDL and a round trip on the new node
      const client = new cassandra.Client({ contactPoints: [node.contactPoint], localDataCenter: node.localDataCenter });
      try {
        await client.execute("CREATE KEYSPACE k WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
        await client.execute("CREATE TABLE k.t (id int PRIMARY KEY, v text)");
        await client.execute("INSERT INTO k.t (id, v) VALUES (1, 'one')");
        expect((await client.execute("SELECT v FROM k.t WHERE id = 1")).first()?.get("v")).toBe("one");
        // evenly spaced tokens: the driver sees 16 equal ranges
        expect(client.metadata.getTokenRanges().size).toBe(16);
        await client.execute("DROP KEYSPACE k");
      } finally {
        await client.shutdown();
      }

      // detached: its own session, so it outlives whoever started it
      const stat = readFileSync(`/proc/${node.pid}/stat`, "utf8");
      expect(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3])).toBe(node.pid);

      const status = await cassandraNodeStatus(dataDir);
      expect(status).toMatchObject({ state: "running", pid: node.pid, contactPoint: node.contactPoint, releaseVersion: node.version });
      expect(status.rssBytes).toBeGreaterThan(100 * 2 ** 20);

      const again = await startCassandraNode({ name: "second", dataDir, nativePort });
      expect(again).toMatchObject({ alreadyRunning: true, pid: node.pid });
    } finally {
      const stopped = await stopCassandraNode(dataDir, { deadlineMs: 30_000 });
      expect(stopped).toMatchObject({ wasRunning: true, stale: false, pid: node.pid, forced: false });
    }
    expect(readProcess(node.pid)).toBeUndefined();
    expect(existsSync(nodeRecordFile(dataDir))).toBe(false);
    expect(await cassandraNodeStatus(dataDir)).toMatchObject({ state: "stopped" });
    expect(await stopCassandraNode(dataDir)).toMatchObject({ wasRunning: false, stale: false });
  });
});

describe("startCassandraNode refuses before it starts anything", () => {
  it("names a CQL port that is taken", async () => {
    const shared = services().cassandra;
    const [host, port] = shared.contactPoint.split(":");
    const dataDir = tempDataDir();
    const error = await failure(startCassandraNode({ name: "clash", dataDir, listenAddress: host, nativePort: Number(port) }));
    expect(error).toMatchObject({ code: "port-in-use", cliCode: "conflict" });
    expect(error.message).toBe(`port ${port} on ${host} is already in use (wanted for CQL)`);
    expect(existsSync(nodeRecordFile(dataDir))).toBe(false);
  });

  it("names a storage port that is taken", async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const taken = (server.address() as { port: number }).port;
    try {
      const error = await failure(
        startCassandraNode({ name: "clash", dataDir: tempDataDir(), nativePort: await freePort("127.0.0.1"), storagePort: taken }),
      );
      expect(error.message).toBe(`port ${taken} on 127.0.0.1 is already in use (wanted for the storage port)`);
    } finally {
      server.close();
    }
  });

  it("rejects a port out of range and a malformed heap", async () => {
    expect(await failure(startCassandraNode({ name: "bad", dataDir: tempDataDir(), nativePort: 70000 }))).toMatchObject({
      code: "invalid-options",
      cliCode: "usage",
      message: "invalid port 70000: expected an integer from 1 to 65535",
    });
    expect(await failure(startCassandraNode({ name: "bad", dataDir: tempDataDir(), heap: "lots" }))).toMatchObject({ code: "invalid-options" });
  });
});

describe("when the JVM does not come up", () => {
  it("reports its exit with the last lines of its output", async () => {
    const java = fakeJava("java-crashes", 'echo "Error: Could not create the Java Virtual Machine (fake)" >&2\nexit 1');
    const dataDir = tempDataDir();
    const error = await failure(startCassandraNode({ name: "crash", dataDir, nativePort: await freePort("127.0.0.1"), java }));
    expect(error).toMatchObject({ code: "start-failed", cliCode: "failed" });
    expect(error.message).toMatch(/^Cassandra exited with code 1 during start-up; last lines of its log:\n/);
    expect(error.logTail).toContain("Could not create the Java Virtual Machine (fake)");
    expect(existsSync(nodeRecordFile(dataDir))).toBe(false);
  });

  it("kills a JVM that misses the deadline", async () => {
    const pidFile = join(scratch, "hung.pid");
    const java = fakeJava("java-hangs", `echo $$ > ${pidFile}\necho "still thinking"\nexec sleep 300`);
    const dataDir = tempDataDir();
    const nativePort = await freePort("127.0.0.1");
    const error = await failure(startCassandraNode({ name: "hung", dataDir, nativePort, java }, { deadlineMs: 2_000 }));
    expect(error).toMatchObject({ code: "start-timeout", cliCode: "failed" });
    expect(error.message).toMatch(new RegExp(`^Cassandra did not answer CQL on 127\\.0\\.0\\.1:${nativePort} within 2 s; last lines`));
    expect(error.logTail).toContain("still thinking");
    const pid = Number(readFileSync(pidFile, "utf8"));
    await expect.poll(() => readProcess(pid), { timeout: 5_000 }).toBeUndefined();
    expect(existsSync(nodeRecordFile(dataDir))).toBe(false);
  });
});

describe("status and stop of a node that is not running", () => {
  it("says stopped for a data dir that never ran a node", async () => {
    expect(await cassandraNodeStatus(tempDataDir())).toMatchObject({ state: "stopped" });
    expect(await stopCassandraNode(tempDataDir())).toEqual({ wasRunning: false, stale: false, forced: false, elapsedMs: 0 });
  });

  it("says stale when node.json names a process that is gone, and stop cleans it up", async () => {
    const dataDir = tempDataDir();
    const deadPid = spawnSync("true").pid;
    mkdirSync(dataDir, { recursive: true });
    writeNodeRecord(dataDir, {
      name: "ghost",
      pid: deadPid,
      listenAddress: "127.0.0.1",
      nativePort: 9042,
      storagePort: 7000,
      jmxPort: 7199,
      contactPoint: "127.0.0.1:9042",
      localDataCenter: "datacenter1",
      version: "5.0.9",
      heap: "1G",
      startedAt: new Date().toISOString(),
    });
    expect(await cassandraNodeStatus(dataDir)).toMatchObject({ state: "stale", pid: deadPid, name: "ghost" });
    expect(await stopCassandraNode(dataDir)).toMatchObject({ wasRunning: false, stale: true, pid: deadPid });
    expect(existsSync(nodeRecordFile(dataDir))).toBe(false);
    expect(await cassandraNodeStatus(dataDir)).toMatchObject({ state: "stopped" });
  });
});
