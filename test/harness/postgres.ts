import { execFile, execFileSync, spawn } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { freePort } from "./ports.ts";
import type { RunningService } from "./service.ts";
import { delay, exitDescription, exited, keepTail, stopChild } from "./child-process.ts";

export interface PostgresInfo {
  /** Superuser URL of the server's maintenance database, e.g. postgres://postgres@127.0.0.1:41234/postgres */
  url: string;
}

export interface StartPostgresOptions {
  /** Reuse this server instead of starting one (default: env DEVENV_TEST_DATABASE_URL). */
  url?: string;
  env?: NodeJS.ProcessEnv;
  startDeadlineMs?: number;
  stopDeadlineMs?: number;
}

const debianInstallRoot = "/usr/lib/postgresql";
const outputLinesKept = 40;

/**
 * Reuses a PostgreSQL server (opts.url or DEVENV_TEST_DATABASE_URL) after a `select 1`,
 * or starts a throwaway cluster in a temp dir that stop() removes again. The machine's
 * own cluster is never used or touched.
 */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<RunningService<PostgresInfo>> {
  const env = opts.env ?? process.env;
  const reuse = opts.url ?? env.DEVENV_TEST_DATABASE_URL;
  if (reuse) {
    const problem = await probe(reuse, 5_000);
    if (problem !== undefined) {
      const source = opts.url ? "the url option" : "DEVENV_TEST_DATABASE_URL";
      throw new Error(`PostgreSQL at ${redact(reuse)} (from ${source}) does not answer select 1: ${problem}`);
    }
    return { info: { url: reuse }, startedHere: false, stop: async () => {} };
  }

  const binDir = newestBinDir();
  const owner = clusterOwner();
  const dir = mkdtempSync(join(tmpdir(), "devenv-test-postgres-"));
  try {
    const dataDir = join(dir, "data");
    const socketDir = join(dir, "socket");
    mkdirSync(socketDir);
    if (owner) {
      chownSync(dir, owner.uid, owner.gid);
      chownSync(socketDir, owner.uid, owner.gid);
    }
    await initdb(binDir, dataDir, dir, owner);
    // a port freed by freePort() can be taken again before postgres binds it: retry with another
    for (let attempt = 1; ; attempt++) {
      try {
        return await startServer({ binDir, dir, dataDir, socketDir, owner, port: await freePort(), opts });
      } catch (error) {
        if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
      }
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Creates an empty database named `<name>_<random>` on the server at `url` and returns
 * its URL; the suffix keeps parallel tests and reruns on a reused server apart.
 */
export async function createDatabase(url: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(name)) {
    throw new Error(`database name prefix "${name}" must be lowercase letters, digits and _ (at most 41 characters)`);
  }
  const database = `${name}_${randomBytes(5).toString("hex")}`;
  await withClient(url, (client) => client.query(`create database ${client.escapeIdentifier(database)}`));
  const databaseUrl = new URL(url);
  databaseUrl.pathname = `/${database}`;
  return databaseUrl.toString();
}

/** Drops the database that `databaseUrl` names, disconnecting any sessions still on it. */
export async function dropDatabase(url: string, databaseUrl: string): Promise<void> {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  if (database === "" || database === decodeURIComponent(new URL(url).pathname.slice(1))) {
    throw new Error(`refusing to drop "${database}": pass the URL createDatabase returned, not the server URL`);
  }
  await withClient(url, (client) =>
    client.query(`drop database if exists ${client.escapeIdentifier(database)} with (force)`),
  );
}

class PortTakenError extends Error {}

interface ClusterOwner {
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. As root, the cluster belongs to the `postgres`
 * OS user and its processes are spawned with that uid; otherwise they run as we do.
 */
function clusterOwner(): ClusterOwner | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }).trim());
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    throw new Error(
      "running as root, but there is no 'postgres' OS user to own the test cluster (PostgreSQL refuses root): run scripts/install-postgres.sh",
    );
  }
}

function newestBinDir(): string {
  const versions = existsSync(debianInstallRoot)
    ? readdirSync(debianInstallRoot)
        .filter((version) => existsSync(join(debianInstallRoot, version, "bin", "postgres")))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(`no PostgreSQL server under ${debianInstallRoot}/*/bin/postgres: run scripts/install-postgres.sh`);
  }
  return join(debianInstallRoot, newest, "bin");
}

function initdb(binDir: string, dataDir: string, cwd: string, owner: ClusterOwner | undefined): Promise<void> {
  const args = ["-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"];
  return new Promise((resolve, reject) => {
    execFile(join(binDir, "initdb"), args, { cwd, ...owner }, (error, stdout, stderr) => {
      if (!error) return resolve();
      const tail = `${stdout}${stderr}`.trim().split("\n").slice(-outputLinesKept).join("\n");
      reject(new Error(`initdb ${dataDir} failed (${error.message.split("\n")[0]}); its last output:\n${tail}`));
    });
  });
}

interface ServerSetup {
  binDir: string;
  dir: string;
  dataDir: string;
  socketDir: string;
  owner: ClusterOwner | undefined;
  port: number;
  opts: StartPostgresOptions;
}

async function startServer(setup: ServerSetup): Promise<RunningService<PostgresInfo>> {
  const { binDir, dir, dataDir, socketDir, owner, port, opts } = setup;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // durability is worthless for a throwaway cluster and costs test time
  const args = [
    ...["-D", dataDir, "-p", String(port), "-k", socketDir],
    ...["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    ...["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
  ];
  // spawned directly with the owner's uid (not via runuser, which would turn our SIGINT
  // into SIGTERM), so stop() signals the postmaster itself
  const child = spawn(join(binDir, "postgres"), args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"], ...owner });
  const output = keepTail(child, outputLinesKept);
  // if the test process exits without running teardown, do not leave the cluster behind
  const killOnExit = () => {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", killOnExit);
  const stop = async () => {
    // SIGINT is PostgreSQL's fast shutdown: it disconnects clients instead of waiting for them
    await stopChild(child, "SIGINT", opts.stopDeadlineMs ?? 15_000);
    process.off("exit", killOnExit);
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.startDeadlineMs ?? 30_000);
  let problem: string | undefined = "not polled yet";
  while (Date.now() < deadline) {
    if (exited(child)) {
      process.off("exit", killOnExit);
      const log = output();
      const message = `postgres exited (${exitDescription(child)}) before accepting connections on ${url}; its last log lines:\n${log}`;
      throw /address already in use/i.test(log) ? new PortTakenError(message) : new Error(message);
    }
    problem = await probe(url, 1_000);
    if (problem === undefined) return { info: { url }, startedHere: true, stop };
    await delay(100);
  }
  await stop();
  throw new Error(`postgres did not accept connections on ${url} within the deadline (${problem}); its last log lines:\n${output()}`);
}

/** undefined when `select 1` works, otherwise what went wrong. */
async function probe(url: string, timeoutMs: number): Promise<string | undefined> {
  try {
    await withClient(url, (client) => client.query("select 1"), timeoutMs);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  // a server going away mid-session emits 'error'; the failing query reports it instead
  client.on("error", () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}
