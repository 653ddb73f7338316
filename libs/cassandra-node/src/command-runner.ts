import { spawn } from "node:child_process";

export interface CommandResult {
  /** null when the process could not be started or was killed by a signal. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started at all (e.g. ENOENT). */
  spawnError?: NodeJS.ErrnoException;
}

/** Runs a short-lived command to completion; injectable so tests can count or fake calls. */
export interface CommandRunner {
  run(command: string, args: readonly string[], options?: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<CommandResult>;
}

/** Output beyond this is dropped from the front: only the tail carries the error. */
const maxCapture = 256 * 1024;

export const processRunner: CommandRunner = {
  run(command, args, options) {
    return new Promise((resolve) => {
      let stdout = "";
      let stderr = "";
      let spawnError: NodeJS.ErrnoException | undefined;
      const child = spawn(command, args, { cwd: options?.cwd, env: options?.env, stdio: ["ignore", "pipe", "pipe"] });
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout = (stdout + chunk).slice(-maxCapture);
      });
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-maxCapture);
      });
      child.on("error", (error) => {
        spawnError = error;
      });
      child.on("close", (code) => {
        resolve({ exitCode: spawnError ? null : code, stdout, stderr, ...(spawnError ? { spawnError } : {}) });
      });
    });
  },
};
