import type { TransferProgress } from "@devenv/protocol";

/** One line of progress: phase, a bar when totals are known, counts, rate and ETA. */
export function formatProgress(p: TransferProgress, width = 24): string {
  const parts: string[] = [p.phase.padEnd(8)];
  const useRows = (p.phase === "load" || p.phase === "scan") && p.rowsTotal !== undefined;
  const done = useRows ? p.rowsDone : p.bytesDone;
  const total = useRows ? p.rowsTotal : p.bytesTotal;
  if (total !== undefined && total > 0) {
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    parts.push(`[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`);
  }
  if (p.chunksTotal !== undefined) parts.push(`${p.chunksDone}/${p.chunksTotal} chunks`);
  parts.push(`${p.rowsDone.toLocaleString("en-US")} rows`);
  parts.push(formatBytes(p.bytesDone));
  if (p.elapsedSeconds > 0.5 && p.phase !== "done") {
    const rate = done / p.elapsedSeconds;
    parts.push(useRows ? `${Math.round(rate).toLocaleString("en-US")} rows/s` : `${formatBytes(rate)}/s`);
    if (total !== undefined && rate > 0 && done < total) parts.push(`ETA ${Math.ceil((total - done) / rate)} s`);
  }
  return parts.join("  ");
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
