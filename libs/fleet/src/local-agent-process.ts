import { existsSync, readFileSync } from "node:fs";

const hasProcFs = existsSync("/proc/self/cmdline");

/**
 * Whether `pid` is a live process whose command line holds `marker` (an agent's state dir).
 * A pid the kernel gave to another program after the agent died, or a zombie, is not it.
 */
export function isProcessOf(pid: number, marker: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  // without /proc (not Linux) all that can be known is whether the pid is taken
  if (!hasProcFs) return signalZero(pid);
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the state follows the parenthesised command name, which may itself hold spaces
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(marker);
  } catch {
    return false;
  }
}

function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM (the agent says goodbye and checkpoints), then SIGKILL after a grace period. */
export async function stopProcessOf(pid: number, marker: string, graceMs = 10_000): Promise<void> {
  if (!isProcessOf(pid, marker)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (isProcessOf(pid, marker) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isProcessOf(pid, marker)) process.kill(pid, "SIGKILL");
}
