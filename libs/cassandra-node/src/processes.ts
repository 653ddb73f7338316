import { readFileSync } from "node:fs";

/** What /proc says about a pid; undefined when there is no such (live) process. */
export interface ProcessInfo {
  pid: number;
  commandLine: string[];
}

/** A live process (zombies count as gone: they only wait to be reaped). */
export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // state is the field after the parenthesised command name, which may itself hold spaces
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return undefined;
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { pid, commandLine };
  } catch {
    return undefined;
  }
}

/** Resident memory of a process in bytes (VmRSS), if it is alive. */
export function residentBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}
