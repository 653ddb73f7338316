import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readSync, fstatSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { systemClock, type Clock } from "@devenv/core";
import { defaultCacheDir, defaultCassandraVersion } from "./cache-dir.ts";
import { processRunner, type CommandRunner } from "./command-runner.ts";
import { queryReleaseVersion } from "./cql-probe.ts";
import { CassandraNodeError } from "./errors.ts";
import { assertCanCreate, makeDirs } from "./dirs.ts";
import { findJava } from "./java.ts";
import { resolveCassandraJars } from "./jars.ts";
import {
  cassandraMainClass,
  cassandraYaml,
  confDir,
  jvmArgFile,
  jvmOptions,
  localDataCenter,
  logbackXml,
  logDir,
  outputLogFile,
  systemLogFile,
  type NodeLayout,
} from "./node-files.ts";
import { readNodeRecord, removeNodeRecord, writeNodeRecord, type NodeRecord } from "./node-state.ts";
import { assertPortFree, freePort, isPortFree, isPortOpen } from "./ports.ts";
import { readProcess, residentBytes, signal } from "./processes.ts";

export interface CassandraNodeOptions {
  /** A label for messages and node.json (e.g. "dev"). */
  name: string;
  /** Holds conf/, data/, commitlog/, logs/ and node.json; created when missing. */
  dataDir: string;
  /** Default 127.0.0.1. Several nodes may share it on different ports. */
  listenAddress?: string;
  /** CQL port, default 9042. */
  nativePort?: number;
  /** Inter-node port; default nativePort - 2042 (7000 for 9042) when free, else any free port. */
  storagePort?: number;
  /** JMX port on loopback (nodetool); default nativePort - 1843 (7199 for 9042) when free, else any free port. */
  jmxPort?: number;
  /** JVM heap (-Xms = -Xmx), default "1G". */
  heap?: string;
  clusterName?: string;
  /** Cassandra release on Maven Central. */
  version?: string;
  /** Where jars are cached; default env DEVENV_CACHE_DIR, else ~/.cache/devenv. */
  cacheDir?: string;
  /** Path of the java binary; default env DEVENV_JAVA, JAVA_HOME, PATH. */
  java?: string;
  /**
   * Let Cassandra mlockall() its memory, as it does in production. Only root can, and
   * then the whole heap is resident from the start (and start-up takes seconds longer),
   * so by default a root-started node runs without CAP_IPC_LOCK.
   */
  lockMemory?: boolean;
}

export interface StartNodeOptions {
  /** Give up (and kill the JVM) when CQL does not answer within this long. Default 180 s. */
  deadlineMs?: number;
  onProgress?: (message: string) => void;
  clock?: Clock;
  runner?: CommandRunner;
  env?: NodeJS.ProcessEnv;
}

export interface RunningCassandraNode extends NodeRecord {
  dataDir: string;
  /** What the node itself reports in system.local. */
  releaseVersion: string;
  /** True when the node was already up and this call started nothing. */
  alreadyRunning: boolean;
  /** True when this call had to download the jars. */
  jarsDownloaded: boolean;
  /** From the call to CQL answering. */
  startupMs: number;
  logFile: string;
}

export const defaultNativePort = 9042;
const defaults = { listenAddress: "127.0.0.1", heap: "1G", clusterName: "devenv" };
const pollIntervalMs = 250;

/**
 * Starts a detached Cassandra JVM (it outlives the caller) and returns once CQL answers.
 * Starting a node that is already running returns it as it is.
 */
export async function startCassandraNode(options: CassandraNodeOptions, start: StartNodeOptions = {}): Promise<RunningCassandraNode> {
  const clock = start.clock ?? systemClock;
  const began = clock.now();
  const deadlineMs = start.deadlineMs ?? 180_000;
  const deadline = began + deadlineMs;
  const env = start.env ?? process.env;
  const runner = start.runner ?? processRunner;
  const progress = start.onProgress ?? (() => {});
  const dataDir = resolve(options.dataDir);
  const listenAddress = options.listenAddress ?? defaults.listenAddress;
  const nativePort = options.nativePort ?? defaultNativePort;
  const heap = options.heap ?? defaults.heap;
  validateOptions({ ...options, listenAddress, nativePort, heap });
  assertCanCreate(dataDir, "the node's files");

  const existing = readNodeRecord(dataDir);
  if (existing && isOurJvm(existing.pid, dataDir)) {
    progress(`already running (pid ${existing.pid}); waiting for CQL on ${existing.contactPoint}…`);
    const died = () => (isOurJvm(existing.pid, dataDir) ? undefined : `Cassandra (pid ${existing.pid}) exited`);
    const releaseVersion = await waitForCql({ record: existing, dataDir, deadline, deadlineMs, clock, died });
    return { ...existing, dataDir, releaseVersion, alreadyRunning: true, jarsDownloaded: false, startupMs: clock.now() - began, logFile: systemLogFile(dataDir) };
  }
  if (existing) removeNodeRecord(dataDir); // stale: its JVM is gone

  await assertPortFree(listenAddress, nativePort, "CQL");
  const storagePort = await choosePort(listenAddress, options.storagePort, nativePort - 2042, "the storage port", [nativePort]);
  const jmxPort = await choosePort("127.0.0.1", options.jmxPort, nativePort - 1843, "JMX", [nativePort, storagePort]);

  const java = await findJava(runner, env, options.java);
  const version = options.version ?? defaultCassandraVersion;
  progress(`resolving Cassandra ${version} jars…`);
  const jars = await resolveCassandraJars({
    version,
    cacheDir: options.cacheDir ?? defaultCacheDir(env),
    onProgress: progress,
    runner,
    env,
    java,
  });

  const layout: NodeLayout = {
    name: options.name,
    clusterName: options.clusterName ?? defaults.clusterName,
    listenAddress,
    nativePort,
    storagePort,
    jmxPort,
    heap,
    dataDir,
    libDir: jars.libDir,
  };
  const argFile = writeNodeFiles(layout);

  progress(`starting JVM (heap ${heap})…`);
  const logOffsets = { system: sizeOf(systemLogFile(dataDir)), output: sizeOf(outputLogFile(dataDir)) };
  const out = openSync(outputLogFile(dataDir), "a");
  let exit: string | undefined;
  let pid: number | undefined;
  try {
    const [command, args] = withoutMemoryLock(java.path, [`@${argFile}`, cassandraMainClass], options.lockMemory ?? false);
    const child = spawn(command, args, {
      cwd: dataDir,
      env,
      detached: true, // own session: survives the CLI exiting and the terminal's Ctrl-C
      stdio: ["ignore", out, out],
    });
    child.once("error", (error) => {
      exit = `could not run ${java.path}: ${error.message}`;
    });
    child.once("exit", (code, signalName) => {
      exit = signalName ? `Cassandra was killed by ${signalName}` : `Cassandra exited with code ${code}`;
    });
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(out);
  }
  if (pid === undefined) {
    throw new CassandraNodeError("start-failed", exit ?? `could not run ${java.path}`);
  }

  const record: NodeRecord = {
    name: options.name,
    pid,
    listenAddress,
    nativePort,
    storagePort,
    jmxPort,
    contactPoint: `${listenAddress}:${nativePort}`,
    localDataCenter,
    version,
    heap,
    startedAt: new Date().toISOString(),
  };
  writeNodeRecord(dataDir, record);

  progress(`waiting for CQL on ${record.contactPoint}…`);
  try {
    const releaseVersion = await waitForCql({ record, dataDir, deadline, deadlineMs, clock, died: () => exit, logOffsets });
    return {
      ...record,
      dataDir,
      releaseVersion,
      alreadyRunning: false,
      jarsDownloaded: jars.downloaded,
      startupMs: clock.now() - began,
      logFile: systemLogFile(dataDir),
    };
  } catch (error) {
    // a half-started node must not linger holding ports (once exited, the pid is not ours to signal)
    if (exit === undefined) signal(pid, "SIGKILL");
    removeNodeRecord(dataDir);
    throw error;
  }
}

export interface StopNodeOptions {
  /** How long to wait after SIGTERM before SIGKILL. Default 60 s. */
  deadlineMs?: number;
  clock?: Clock;
}

export interface StoppedCassandraNode {
  /** True when a live node was stopped by this call. */
  wasRunning: boolean;
  /** True when node.json named a process that was already gone. */
  stale: boolean;
  pid?: number;
  /** True when SIGTERM was not enough and SIGKILL was sent. */
  forced: boolean;
  elapsedMs: number;
}

/** SIGTERM (Cassandra drains and flushes), SIGKILL after the deadline. Stopping a stopped node is fine. */
export async function stopCassandraNode(dataDirPath: string, options: StopNodeOptions = {}): Promise<StoppedCassandraNode> {
  const clock = options.clock ?? systemClock;
  const began = clock.now();
  const dataDir = resolve(dataDirPath);
  const record = readNodeRecord(dataDir);
  if (!record) return { wasRunning: false, stale: false, forced: false, elapsedMs: 0 };
  if (!isOurJvm(record.pid, dataDir)) {
    removeNodeRecord(dataDir);
    return { wasRunning: false, stale: true, pid: record.pid, forced: false, elapsedMs: clock.now() - began };
  }
  signal(record.pid, "SIGTERM");
  const deadline = began + (options.deadlineMs ?? 60_000);
  let forced = false;
  while (readProcess(record.pid)) {
    if (!forced && clock.now() >= deadline) {
      signal(record.pid, "SIGKILL");
      forced = true;
    } else if (forced && clock.now() >= deadline + 10_000) {
      throw new CassandraNodeError("stop-failed", `Cassandra (pid ${record.pid}) is still alive 10 s after SIGKILL`);
    }
    await clock.sleep(100);
  }
  removeNodeRecord(dataDir);
  return { wasRunning: true, stale: false, pid: record.pid, forced, elapsedMs: clock.now() - began };
}

export type CassandraNodeState = "running" | "starting" | "stopped" | "stale";

export interface CassandraNodeStatus {
  /** running: CQL answers; starting: JVM alive, CQL not yet; stale: node.json names a dead process. */
  state: CassandraNodeState;
  dataDir: string;
  name?: string;
  pid?: number;
  contactPoint?: string;
  localDataCenter?: string;
  version?: string;
  releaseVersion?: string;
  startedAt?: string;
  storagePort?: number;
  jmxPort?: number;
  /** Resident memory of the JVM (VmRSS). */
  rssBytes?: number;
  logFile: string;
}

export async function cassandraNodeStatus(dataDirPath: string, options: { probeTimeoutMs?: number } = {}): Promise<CassandraNodeStatus> {
  const dataDir = resolve(dataDirPath);
  const logFile = systemLogFile(dataDir);
  const record = readNodeRecord(dataDir);
  if (!record) return { state: "stopped", dataDir, logFile };
  const { name, pid, contactPoint, localDataCenter: dc, version, startedAt, storagePort, jmxPort } = record;
  const known = { dataDir, logFile, name, pid, contactPoint, localDataCenter: dc, version, startedAt, storagePort, jmxPort };
  if (!isOurJvm(pid, dataDir)) return { state: "stale", ...known };
  const rssBytes = residentBytes(pid);
  try {
    const releaseVersion = await queryReleaseVersion(contactPoint, dc, options.probeTimeoutMs ?? 3_000);
    return { state: "running", ...known, releaseVersion, ...(rssBytes === undefined ? {} : { rssBytes }) };
  } catch {
    return { state: "starting", ...known, ...(rssBytes === undefined ? {} : { rssBytes }) };
  }
}

/**
 * As root, mlockall() succeeds and faults in the whole heap (1.5 GiB resident for a 1G heap,
 * ~4 s slower start). setpriv drops CAP_IPC_LOCK and then execs java, so the pid stays the JVM's.
 */
function withoutMemoryLock(java: string, args: string[], lockMemory: boolean): [string, string[]] {
  if (lockMemory || process.getuid?.() !== 0) return [java, args];
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => existsSync(path));
  return setpriv ? [setpriv, ["--bounding-set=-ipc_lock", "--", java, ...args]] : [java, args];
}

/** node.json may outlive its JVM, and the pid may since belong to someone else. */
function isOurJvm(pid: number, dataDir: string): boolean {
  const info = readProcess(pid);
  return info !== undefined && info.commandLine.includes(`@${argFilePath(dataDir)}`);
}

function argFilePath(dataDir: string): string {
  return join(confDir(dataDir), "jvm.options");
}

function writeNodeFiles(layout: NodeLayout): string {
  const conf = confDir(layout.dataDir);
  for (const dir of [conf, join(conf, "triggers"), logDir(layout.dataDir), ...["data", "commitlog", "hints", "saved_caches", "cdc_raw"].map((d) => join(layout.dataDir, d))]) {
    makeDirs(dir, "the node's files");
  }
  writeFileSync(join(conf, "cassandra.yaml"), cassandraYaml(layout));
  writeFileSync(join(conf, "logback.xml"), logbackXml(layout.dataDir));
  const argFile = argFilePath(layout.dataDir);
  writeFileSync(argFile, jvmArgFile(jvmOptions(layout)));
  return argFile;
}

async function choosePort(host: string, explicit: number | undefined, derived: number, purpose: string, taken: number[]): Promise<number> {
  if (explicit !== undefined) {
    if (taken.includes(explicit)) throw new CassandraNodeError("invalid-options", `port ${explicit} is given for ${purpose} and for another use`);
    await assertPortFree(host, explicit, purpose);
    return explicit;
  }
  if (derived >= 1024 && !taken.includes(derived) && (await isPortFree(host, derived))) return derived;
  for (;;) {
    const port = await freePort(host);
    if (!taken.includes(port)) return port;
  }
}

interface CqlWait {
  record: NodeRecord;
  dataDir: string;
  deadline: number;
  deadlineMs: number;
  clock: Clock;
  /** Why the JVM is gone, once it is. */
  died: () => string | undefined;
  /** Sizes of the logs when this start began: the error shows only this run's lines. */
  logOffsets?: { system: number; output: number };
}

async function waitForCql({ record, dataDir, deadline, deadlineMs, clock, died, logOffsets }: CqlWait): Promise<string> {
  for (;;) {
    const death = died();
    if (death) {
      const tail = logTail(dataDir, logOffsets);
      throw new CassandraNodeError("start-failed", `${death} during start-up${tail ? `; last lines of its log:\n${tail}` : ""}`, { logTail: tail });
    }
    if (clock.now() >= deadline) {
      const tail = logTail(dataDir, logOffsets);
      throw new CassandraNodeError(
        "start-timeout",
        `Cassandra did not answer CQL on ${record.contactPoint} within ${Math.round(deadlineMs / 1000)} s${tail ? `; last lines of its log:\n${tail}` : ""}`,
        { logTail: tail },
      );
    }
    // the native port opens last in Cassandra's start-up; only then is the driver worth its cost
    if (await isPortOpen(record.listenAddress, record.nativePort, 1_000)) {
      try {
        return await queryReleaseVersion(record.contactPoint, record.localDataCenter, 5_000);
      } catch {
        // not ready yet
      }
    }
    await clock.sleep(pollIntervalMs);
  }
}

/** This run's last lines of system.log, then of the JVM's own output (where crashes land). */
function logTail(dataDir: string, offsets: { system: number; output: number } | undefined): string {
  const system = tailLines(systemLogFile(dataDir), offsets?.system ?? 0, 15);
  const output = tailLines(outputLogFile(dataDir), offsets?.output ?? 0, 10);
  const parts = [...system];
  if (output.length > 0) parts.push(`--- ${outputLogFile(dataDir)} ---`, ...output);
  return parts.map((line) => `  ${line}`).join("\n");
}

function tailLines(file: string, fromOffset: number, count: number): string[] {
  if (!existsSync(file)) return [];
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(fromOffset > size ? 0 : fromOffset, size - 64 * 1024);
    const buffer = Buffer.alloc(size - start);
    readSync(fd, buffer, 0, buffer.length, start);
    return buffer.toString("utf8").split("\n").filter((line) => line.trim() !== "").slice(-count);
  } finally {
    closeSync(fd);
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function validateOptions(o: CassandraNodeOptions & { listenAddress: string; nativePort: number; heap: string }): void {
  const invalid = (message: string) => new CassandraNodeError("invalid-options", message);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(o.name)) throw invalid(`invalid node name "${o.name}" (letters, digits, . _ -)`);
  for (const [label, port] of [["port", o.nativePort], ["storage port", o.storagePort], ["JMX port", o.jmxPort]] as const) {
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw invalid(`invalid ${label} ${port}: expected an integer from 1 to 65535`);
    }
  }
  if (!/^[1-9]\d*[MmGg]$/.test(o.heap)) throw invalid(`invalid heap "${o.heap}": expected a size like 512M or 1G`);
  if (!/^[A-Za-z0-9.:-]+$/.test(o.listenAddress)) throw invalid(`invalid address "${o.listenAddress}"`);
  if (o.clusterName !== undefined && !/^[A-Za-z0-9 ._-]+$/.test(o.clusterName)) throw invalid(`invalid cluster name "${o.clusterName}"`);
}
