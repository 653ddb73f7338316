import type { ShapeName } from "./data-shapes.ts";
import type { LoaderName } from "./loaders.ts";
import type { TreeUsage } from "./process-tree-usage.ts";
import type { LoadCheck } from "./verify-load.ts";

export interface LoadOutcome {
  shape: ShapeName;
  loader: LoaderName;
  /** 1-based, with --repeat. */
  attempt: number;
  rows: number;
  bytes: number;
  bytesKind: "NDJSON" | "CSV";
  seconds: number | undefined;
  /** The loader's process tree: peak memory and CPU time. */
  usage: TreeUsage | undefined;
  /** CPU seconds the Cassandra JVM used during the load, when the bench started it. */
  nodeCpuSeconds: number | undefined;
  check: LoadCheck | undefined;
  /** Why the load did not happen or did not finish. */
  failure: string | undefined;
  notes: string[];
}

/** All attempts of one loader on one shape, folded into one row of the table. */
export interface CombinedOutcome extends LoadOutcome {
  /** Wall seconds of every attempt, in the order run; `seconds` (and the CPU times) are medians, memory the largest peak. */
  attempts: number[];
}

/**
 * Folds repeated attempts (--repeat) into one row per shape and loader: the median wall
 * time, the largest memory peak, and a failure if any attempt failed or did not verify.
 */
export function combineAttempts(outcomes: readonly LoadOutcome[]): CombinedOutcome[] {
  const groups = new Map<string, LoadOutcome[]>();
  for (const o of outcomes) {
    const key = `${o.shape}/${o.loader}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  return [...groups.values()].map((attempts) => {
    const bad = attempts.find((a) => !verified(a));
    const seconds = attempts.flatMap((a) => (a.seconds === undefined ? [] : [a.seconds]));
    const sorted = [...seconds].sort((a, b) => a - b);
    const usages = attempts.flatMap((a) => (a.usage ? [a.usage] : []));
    const nodeCpu = attempts.flatMap((a) => (a.nodeCpuSeconds === undefined ? [] : [a.nodeCpuSeconds]));
    return {
      ...(bad ?? attempts[0]!),
      seconds: bad ? bad.seconds : median(sorted),
      usage:
        usages.length === 0
          ? undefined
          : {
              peakTreeRssBytes: Math.max(...usages.map((u) => u.peakTreeRssBytes)),
              rootHwmBytes: Math.max(...usages.map((u) => u.rootHwmBytes)),
              cpuSeconds: median([...usages.map((u) => u.cpuSeconds)].sort((a, b) => a - b))!,
              maxProcesses: Math.max(...usages.map((u) => u.maxProcesses)),
              samples: usages.reduce((n, u) => n + u.samples, 0),
            },
      nodeCpuSeconds: median(nodeCpu.sort((a, b) => a - b)),
      notes: attempts.flatMap((a) => a.notes),
      attempts: seconds,
    };
  });
}

function median(sorted: readonly number[]): number | undefined {
  if (sorted.length === 0) return undefined;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface BenchReport {
  startedAt: Date;
  rows: number;
  seed: number;
  cores: number;
  /** Lines describing the machine, the node and the peers' versions. */
  environment: string[];
  /** Generation, export and CSV timings: context, not part of the comparison. */
  preparation: string[];
  /** How each peer was tuned. */
  tuning: string[];
  /** Every attempt, in the order run. */
  outcomes: LoadOutcome[];
}

export const targets = { dsbulkRatio: 1.5, cqlshRatio: 3, rssBytes: 256 * 1024 * 1024 } as const;

const mib = (bytes: number) => bytes / (1024 * 1024);

/** A load counts only when it finished and its table held exactly the expected rows and values. */
export function verified(outcome: LoadOutcome): boolean {
  return (
    outcome.failure === undefined &&
    outcome.seconds !== undefined &&
    outcome.check !== undefined &&
    outcome.check.rows === outcome.rows &&
    outcome.check.mismatches.length === 0
  );
}

function rate(outcome: LoadOutcome): number | undefined {
  return verified(outcome) ? outcome.rows / outcome.seconds! : undefined;
}

/** ours rows/s over this loader's rows/s, on the same shape. */
export function oursOver(outcome: LoadOutcome, outcomes: readonly LoadOutcome[]): number | undefined {
  const ours = outcomes.find((o) => o.shape === outcome.shape && o.loader === "ours");
  const oursRate = ours && rate(ours);
  const theirs = rate(outcome);
  return oursRate && theirs ? oursRate / theirs : undefined;
}

export function renderTable(outcomes: readonly CombinedOutcome[]): string {
  const lines = [
    "| shape | loader | rows | wall s | rows/s | MB/s (input) | loader CPU s | Cassandra CPU s | peak RSS MiB (tree) | ours ÷ loader | check |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const o of outcomes) {
    const ok = verified(o);
    const spread =
      o.attempts.length > 1 ? ` (${Math.min(...o.attempts).toFixed(1)}–${Math.max(...o.attempts).toFixed(1)}, ${o.attempts.length} runs)` : "";
    const seconds = o.seconds === undefined ? "—" : `${o.seconds.toFixed(1)}${spread}`;
    const rowsPerSecond = ok ? Math.round(o.rows / o.seconds!).toLocaleString("en-US") : "—";
    const mbPerSecond = ok ? `${(o.bytes / 1e6 / o.seconds!).toFixed(1)} ${o.bytesKind}` : "—";
    const rss = o.usage
      ? `${mib(o.usage.peakTreeRssBytes).toFixed(0)}${o.loader === "ours" ? ` (VmHWM ${mib(o.usage.rootHwmBytes).toFixed(0)})` : ""}`
      : "—";
    const loaderCpu = o.usage ? o.usage.cpuSeconds.toFixed(1) : "—";
    const nodeCpu = o.nodeCpuSeconds === undefined ? "—" : o.nodeCpuSeconds.toFixed(1);
    const ratio = o.loader === "ours" ? "1.00" : (oursOver(o, outcomes)?.toFixed(2) ?? "—");
    lines.push(
      `| ${o.shape} | ${o.loader} | ${o.rows.toLocaleString("en-US")} | ${seconds} | ${rowsPerSecond} | ${mbPerSecond} | ${loaderCpu} | ${nodeCpu} | ${rss} | ${ratio} | ${checkText(o)} |`,
    );
  }
  return lines.join("\n");
}

function checkText(o: LoadOutcome): string {
  if (o.failure !== undefined) return `✗ ${o.failure.replaceAll("|", "\\|").replaceAll("\n", " ").slice(0, 160)}`;
  if (!o.check) return "—";
  if (o.check.rows !== o.rows) return `✗ count ${o.check.rows.toLocaleString("en-US")} ≠ ${o.rows.toLocaleString("en-US")}`;
  if (o.check.mismatches.length > 0) return `✗ ${o.check.mismatches[0]!.replaceAll("|", "\\|")}`;
  return `✓ count; ${o.check.sampled} rows equal`;
}

/**
 * One line per target and shape: met, not met, or not measurable. With the node's CPU
 * time known, each peer line also says how far any CQL loader could get on this machine:
 * the node alone needed `node CPU ÷ cores` seconds for that peer's load, so a loader that
 * cost nothing itself, and the node no less per row, is at most `peer wall ÷ that` faster.
 */
export function renderTargets(outcomes: readonly CombinedOutcome[], cores: number): string[] {
  const lines: string[] = [];
  const shapesSeen = [...new Set(outcomes.map((o) => o.shape))];
  for (const shape of shapesSeen) {
    const ours = outcomes.find((o) => o.shape === shape && o.loader === "ours");
    const versus = (loader: LoaderName, target: number) => {
      const peer = outcomes.find((o) => o.shape === shape && o.loader === loader);
      if (!peer) return;
      const ratio = oursOver(peer, outcomes);
      const floor = peer.nodeCpuSeconds === undefined ? undefined : peer.nodeCpuSeconds / cores;
      const verdict =
        ratio === undefined
          ? `not measured (target ≥ ${target}×)`
          : `${ratio.toFixed(2)}× (target ≥ ${target}×): ${ratio >= target ? "**met**" : "**not met**"}`;
      const ceiling =
        floor && verified(peer)
          ? `. Cassandra's JVM used ${peer.nodeCpuSeconds!.toFixed(1)} CPU-s during ${loader}'s load (≥ ${floor.toFixed(1)} s on ${cores} cores): ` +
            `a CQL loader with the same server cost per row is at most ${(peer.seconds! / floor).toFixed(1)}× faster than ${loader} here`
          : "";
      lines.push(`- ${shape}: ours ÷ ${loader} = ${verdict}${ceiling}`);
    };
    versus("dsbulk", targets.dsbulkRatio);
    versus("cqlsh", targets.cqlshRatio);
    if (ours?.usage && verified(ours)) {
      const peak = Math.max(ours.usage.peakTreeRssBytes, ours.usage.rootHwmBytes);
      lines.push(
        `- ${shape}: ours peak RSS = ${mib(peak).toFixed(0)} MiB (target < ${mib(targets.rssBytes)} MiB): ${peak < targets.rssBytes ? "**met**" : "**not met**"}`,
      );
    }
  }
  return lines;
}

export function renderReport(report: BenchReport): string {
  const combined = combineAttempts(report.outcomes);
  const notes = report.outcomes.flatMap((o) => o.notes.map((n) => `- ${o.shape}, attempt ${o.attempt}: ${n}`));
  return [
    `# Restore benchmark, ${report.startedAt.toISOString()}`,
    "",
    `${report.rows.toLocaleString("en-US")} rows per shape, seed ${report.seed}. Each loader loads the same rows into a fresh keyspace;`,
    "wall time is the loader process from start to exit (the median when repeated); rows/s and MB/s only for loads whose row count and a",
    "sample of values were verified afterwards. MB = 10^6 bytes of the loader's input: uncompressed NDJSON for",
    "ours, the CSV file for the peers. Peak RSS sums VmRSS over the loader's process tree, sampled every 100 ms.",
    "",
    renderTable(combined),
    "",
    "## Targets",
    "",
    ...renderTargets(combined, report.cores),
    "",
    "## Environment",
    "",
    ...report.environment.map((l) => `- ${l}`),
    "",
    "## Preparation (not timed against each other)",
    "",
    ...report.preparation.map((l) => `- ${l}`),
    "",
    "## Peer tuning",
    "",
    ...report.tuning.map((l) => `- ${l}`),
    ...(notes.length > 0 ? ["", "## Loader output", "", ...notes] : []),
    "",
  ].join("\n");
}
