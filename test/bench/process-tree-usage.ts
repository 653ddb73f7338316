import { readdirSync, readFileSync } from "node:fs";

export interface TreeUsage {
  /** Largest sum of VmRSS over the process and its descendants seen in one sample. */
  peakTreeRssBytes: number;
  /** Largest VmHWM (the kernel's own peak RSS) of the root process seen; exact up to the last sample. */
  rootHwmBytes: number;
  /** CPU seconds (user + system) of every process of the tree, as last sampled. */
  cpuSeconds: number;
  /** Most processes in the tree at once (cqlsh forks workers, launchers exec). */
  maxProcesses: number;
  samples: number;
}

/** Linux reports CPU times in USER_HZ ticks, 100 a second on every architecture Node runs on. */
const ticksPerSecond = 100;

/**
 * Samples a process tree from /proc every `intervalMs` until stopped: resident memory
 * (summed over the tree) and CPU time (per process, last value seen). Descendants are
 * found through each process's parent pid, so workers a loader forks (cqlsh's COPY
 * processes) count toward its peak. A process's last ~interval before it exits is not
 * seen, so CPU time is a slight underestimate.
 */
export class ProcessTreeUsage {
  private readonly rootPid: number;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private readonly cpuTicks = new Map<number, number>();
  private readonly usage: TreeUsage = { peakTreeRssBytes: 0, rootHwmBytes: 0, cpuSeconds: 0, maxProcesses: 0, samples: 0 };

  constructor(rootPid: number, intervalMs = 100) {
    this.rootPid = rootPid;
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  /** Takes a last sample (if the process still lives) and stops. */
  stop(): TreeUsage {
    if (!this.stopped) {
      clearInterval(this.timer);
      this.sample();
      this.stopped = true;
    }
    let ticks = 0;
    for (const t of this.cpuTicks.values()) ticks += t;
    return { ...this.usage, cpuSeconds: ticks / ticksPerSecond };
  }

  private sample(): void {
    const tree = treeOf(this.rootPid);
    let rss = 0;
    let alive = 0;
    for (const { pid, cpuTicks } of tree) {
      const status = readStatus(pid);
      if (!status) continue;
      alive++;
      rss += status.rss;
      // keyed by pid: a pid reused within one load would be a new process, which is rare enough to ignore
      this.cpuTicks.set(pid, Math.max(this.cpuTicks.get(pid) ?? 0, cpuTicks));
      if (pid === this.rootPid) this.usage.rootHwmBytes = Math.max(this.usage.rootHwmBytes, status.hwm);
    }
    if (alive === 0) return;
    this.usage.samples++;
    this.usage.peakTreeRssBytes = Math.max(this.usage.peakTreeRssBytes, rss);
    this.usage.maxProcesses = Math.max(this.usage.maxProcesses, alive);
  }
}

/** CPU seconds (user + system) a live process has used so far; undefined when it is gone. */
export function processCpuSeconds(pid: number): number | undefined {
  const stat = readStat(pid);
  return stat === undefined ? undefined : stat.cpuTicks / ticksPerSecond;
}

/** The root and every live descendant, from one pass over /proc. */
function treeOf(root: number): { pid: number; cpuTicks: number }[] {
  const stats = new Map<number, { parent: number; cpuTicks: number }>();
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (!stat) continue;
    stats.set(pid, stat);
    const list = children.get(stat.parent);
    if (list) list.push(pid);
    else children.set(stat.parent, [pid]);
  }
  const pids = [root];
  for (let i = 0; i < pids.length; i++) pids.push(...(children.get(pids[i]!) ?? []));
  return pids.flatMap((pid) => {
    const stat = stats.get(pid);
    return stat ? [{ pid, cpuTicks: stat.cpuTicks }] : [];
  });
}

function readStat(pid: number): { parent: number; cpuTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the fields after the parenthesised command name (which may hold spaces), from field 3 (state) on
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // field 4 is ppid, 14 and 15 are utime and stime
    return { parent: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined; // exited between readdir and read
  }
}

const vmRss = /^VmRSS:\s+(\d+) kB$/m;
const vmHwm = /^VmHWM:\s+(\d+) kB$/m;

function readStatus(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (pattern: RegExp) => Number(pattern.exec(status)?.[1] ?? 0) * 1024;
    return { rss: kib(vmRss), hwm: kib(vmHwm) };
  } catch {
    return undefined;
  }
}
