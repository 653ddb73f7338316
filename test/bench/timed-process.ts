import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { ProcessTreeUsage, type TreeUsage } from "./process-tree-usage.ts";

export interface TimedRun {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** From spawn to exit: process start-up (JVM, Python, Node) is part of what a user waits for. */
  seconds: number;
  usage: TreeUsage;
  /** Up to the last 64 KiB of stdout and of stderr (the full output is in the log). */
  stdout: string;
  stderr: string;
  /** Last lines of stderr, for error messages. */
  stderrTail: string;
}

export interface TimedRunOptions {
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here in full. */
  logFile: string;
  timeoutMs: number;
  /** Aborting kills the run's process group. */
  signal?: AbortSignal;
}

const keptOutput = 64 * 1024;

/**
 * Runs one loader as a child process in its own process group, timing it and sampling
 * the memory and CPU of its whole tree; on timeout the group (only ours) is killed.
 */
export async function runTimed(options: TimedRunOptions): Promise<TimedRun> {
  const log = createWriteStream(options.logFile, { flags: "a" });
  log.write(`$ ${options.command} ${options.args.map(shellQuote).join(" ")}\n`);
  const started = performance.now();
  const child = spawn(options.command, options.args, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const exited = new Promise<{ exitCode: number | null; signal: NodeJS.Signals | null } | { error: Error }>((resolve) => {
    child.once("exit", (exitCode, signal) => resolve({ exitCode, signal }));
    child.once("error", (error) => resolve({ error }));
  });
  const sampler = child.pid === undefined ? undefined : new ProcessTreeUsage(child.pid);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    log.write(text);
    stdout = (stdout + text).slice(-keptOutput);
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    log.write(text);
    stderr = (stderr + text).slice(-keptOutput);
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) killGroup(child.pid);
  }, options.timeoutMs);
  const onAbort = () => {
    if (child.pid !== undefined) killGroup(child.pid);
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const outcome = await exited;
    const seconds = (performance.now() - started) / 1000;
    const usage = sampler?.stop() ?? { peakTreeRssBytes: 0, rootHwmBytes: 0, cpuSeconds: 0, maxProcesses: 0, samples: 0 };
    if ("error" in outcome) throw new Error(`cannot run ${options.command}: ${outcome.error.message}`);
    // leftover workers must not run into the next measurement, nor hold the pipes open
    killGroup(child.pid!);
    await Promise.all([streamClosed(child.stdout), streamClosed(child.stderr)]);
    return {
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      timedOut,
      seconds,
      usage,
      stdout,
      stderr,
      stderrTail: stderr.split("\n").slice(-15).join("\n"),
    };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
    if (child.pid !== undefined) killGroup(child.pid);
    log.end();
    await once(log, "close");
  }
}

async function streamClosed(stream: NodeJS.ReadableStream & { closed?: boolean }): Promise<void> {
  if (stream.closed) return;
  await once(stream, "close").catch(() => {});
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // the group is already gone
  }
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
