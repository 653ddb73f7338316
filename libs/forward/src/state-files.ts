import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ForwardStateFile } from "@devenv/protocol";
import { ForwardError } from "./errors.ts";

/** Where a forward keeps its files, all inside the CLI's state dir. */
export interface ForwardPaths {
  stateDir: string;
  /** The last route, listen address and drain setting (mode 0600: it holds the tunnel token). */
  stateFile: string;
  pidFile: string;
  /** The control socket (mode 0600). */
  socketPath: string;
  /** What the background process writes: JSON lines of events, and its last error. */
  logFile: string;
}

export function forwardPaths(stateDir: string): ForwardPaths {
  return {
    stateDir,
    stateFile: join(stateDir, "forward.json"),
    pidFile: join(stateDir, "forward.pid"),
    socketPath: join(stateDir, "forward.sock"),
    logFile: join(stateDir, "forward.log"),
  };
}

/** The state dir is private: it holds a socket that redirects this user's connections. */
export function ensureStateDir(paths: ForwardPaths): void {
  mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
}

export function readForwardState(paths: ForwardPaths): ForwardStateFile | undefined {
  if (!existsSync(paths.stateFile)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(paths.stateFile, "utf8"));
  } catch (error) {
    throw new ForwardError("start-failed", `${paths.stateFile} is not valid JSON (delete it to start afresh): ${(error as Error).message}`);
  }
  const parsed = ForwardStateFile.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ForwardError("start-failed", `${paths.stateFile}: ${issue?.path.join(".") || "(root)"}: ${issue?.message} (delete it to start afresh)`);
  }
  return parsed.data;
}

/** Written whole to a temporary file and renamed, so a crash never leaves half a file. */
export function writeForwardState(paths: ForwardPaths, state: ForwardStateFile): void {
  const temporary = `${paths.stateFile}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(ForwardStateFile.parse(state), null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, paths.stateFile);
}

export function readPid(paths: ForwardPaths): number | undefined {
  if (!existsSync(paths.pidFile)) return undefined;
  const pid = Number(readFileSync(paths.pidFile, "utf8").trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

export function writePid(paths: ForwardPaths, pid: number): void {
  writeFileSync(paths.pidFile, `${pid}\n`, { mode: 0o600 });
}

export function removeRuntimeFiles(paths: ForwardPaths): void {
  rmSync(paths.pidFile, { force: true });
  rmSync(paths.socketPath, { force: true });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
