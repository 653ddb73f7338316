import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs";
import type { ForwardRoute, ForwardStateFile, ForwardStatus, ForwardUseResponse } from "@devenv/protocol";
import { ForwardError } from "./errors.ts";
import { ForwardControl } from "./forward-control.ts";
import { openUpstream } from "./upstream.ts";
import { ensureStateDir, forwardPaths, isAlive, readForwardState, readPid, removeRuntimeFiles, type ForwardPaths } from "./state-files.ts";

export interface StartForwardProcessOptions {
  stateDir: string;
  /** The program and arguments that run the forward in the foreground (`devenv forward run …`). */
  command: readonly [string, ...string[]];
  env?: NodeJS.ProcessEnv;
  /** Give up when the control socket does not answer within this long (default 15 s). */
  deadlineMs?: number;
}

export interface StartedForwardProcess {
  status: ForwardStatus;
  alreadyRunning: boolean;
  paths: ForwardPaths;
}

const pollMs = 50;

/**
 * Starts the forward as a detached background process (it outlives the CLI) and returns
 * once its control socket answers. A forward that already runs is returned as it is.
 */
export async function startForwardProcess(options: StartForwardProcessOptions): Promise<StartedForwardProcess> {
  const paths = forwardPaths(options.stateDir);
  const control = new ForwardControl(paths.socketPath, { timeoutMs: 2_000 });
  const existing = await statusIfRunning(control);
  if (existing) return { status: existing, alreadyRunning: true, paths };

  ensureStateDir(paths);
  const log = openSync(paths.logFile, "a", 0o600);
  const logStart = statSync(paths.logFile).size;
  const [program, ...args] = options.command;
  const child = spawn(program, args, { detached: true, stdio: ["ignore", log, log], env: options.env ?? process.env });
  closeSync(log);
  let exit: string | undefined;
  child.once("exit", (code, signal) => (exit = signal ? `signal ${signal}` : `code ${code}`));
  child.once("error", (error) => (exit = error.message));
  child.unref();

  const deadline = performance.now() + (options.deadlineMs ?? 15_000);
  for (;;) {
    const status = await statusIfRunning(control);
    if (status) return { status, alreadyRunning: false, paths };
    if (exit !== undefined) {
      const reason = lastLogLine(paths.logFile, logStart)?.replace(/^devenv: /, "") ?? `it exited with ${exit}`;
      throw new ForwardError("start-failed", `the forward did not start: ${reason}`);
    }
    if (performance.now() > deadline) {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
      throw new ForwardError("start-failed", `the forward did not answer within ${options.deadlineMs ?? 15_000} ms (log: ${paths.logFile})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

export interface UseRouteOptions extends StartForwardProcessOptions {
  route: ForwardRoute;
  /** Prove the target answers before switching (default true). */
  check?: boolean;
}

export interface UsedRoute extends ForwardUseResponse {
  /** The forward was not running and this call started it. */
  started: boolean;
  status: ForwardStatus;
}

/**
 * Points the forward at `route`, starting it in the background when it is not running.
 * A target that does not answer changes nothing: not the route, and no forward is started.
 */
export async function useRoute(options: UseRouteOptions): Promise<UsedRoute> {
  const check = options.check ?? true;
  const paths = forwardPaths(options.stateDir);
  const control = new ForwardControl(paths.socketPath);
  let started = false;
  if (!(await statusIfRunning(control))) {
    if (check) await probeFromHere(options.route);
    started = !(await startForwardProcess(options)).alreadyRunning;
  }
  const used = await control.use(options.route, { check });
  return { ...used, started, status: await control.status() };
}

async function probeFromHere(route: ForwardRoute): Promise<void> {
  try {
    const upstream = await openUpstream(route, { connectTimeoutMs: 5_000, keepAliveMs: 30_000 });
    upstream.on("error", () => {});
    upstream.destroy();
  } catch (error) {
    throw new ForwardError("unreachable", `${(error as Error).message}; nothing changed (--no-check switches anyway)`, { cause: error });
  }
}

export interface StoppedForwardProcess {
  wasRunning: boolean;
  pid: number | undefined;
  paths: ForwardPaths;
}

/** Asks the forward to stop and waits until its process is gone. */
export async function stopForwardProcess(options: { stateDir: string; deadlineMs?: number }): Promise<StoppedForwardProcess> {
  const paths = forwardPaths(options.stateDir);
  const control = new ForwardControl(paths.socketPath, { timeoutMs: 5_000 });
  let pid: number;
  try {
    pid = (await control.stop()).pid;
  } catch (error) {
    if (!(error instanceof ForwardError && error.code === "not-running")) throw error;
    const stale = readPid(paths);
    if (stale !== undefined && isAlive(stale)) {
      throw new ForwardError("control-failed", `pid ${stale} (from ${paths.pidFile}) is alive but its control socket does not answer; check it and kill it`);
    }
    removeRuntimeFiles(paths);
    return { wasRunning: false, pid: stale, paths };
  }
  const deadline = performance.now() + (options.deadlineMs ?? 10_000);
  while (isAlive(pid)) {
    if (performance.now() > deadline) {
      process.kill(pid, "SIGKILL");
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return { wasRunning: true, pid, paths };
}

export type ForwardProcessStatus =
  | { running: true; status: ForwardStatus; paths: ForwardPaths }
  /** `saved` is what a start would come back with. */
  | { running: false; saved: ForwardStateFile | undefined; paths: ForwardPaths };

export async function forwardProcessStatus(stateDir: string): Promise<ForwardProcessStatus> {
  const paths = forwardPaths(stateDir);
  const status = await statusIfRunning(new ForwardControl(paths.socketPath, { timeoutMs: 5_000 }));
  if (status) return { running: true, status, paths };
  return { running: false, saved: readForwardState(paths), paths };
}

async function statusIfRunning(control: ForwardControl): Promise<ForwardStatus | undefined> {
  try {
    return await control.status();
  } catch (error) {
    if (error instanceof ForwardError && error.code === "not-running") return undefined;
    throw error;
  }
}

/** The last non-empty line the process wrote since `from` (its error message when it failed). */
function lastLogLine(file: string, from: number): string | undefined {
  if (!existsSync(file)) return undefined;
  const size = statSync(file).size;
  const start = Math.max(from, size - 4096);
  const buffer = Buffer.alloc(size - start);
  const fd = openSync(file, "r");
  try {
    readSync(fd, buffer, 0, buffer.length, start);
  } finally {
    closeSync(fd);
  }
  const lines = buffer.toString("utf8").split("\n").map((line) => line.trim()).filter(Boolean);
  return lines.at(-1);
}
