import type { InstanceView, RestoreProgressView } from "@devenv/protocol";
import { formatBytes } from "../progress-line.ts";

/** Columns padded to their widest cell, two spaces apart; trailing spaces trimmed. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const format = (row: readonly string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [format(header), ...rows.map(format)];
}

/** "42 s", "5 min", "3.0 h", "2.0 d": how long ago (or, negative, how long until). */
export function formatDuration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  if (s < 48 * 3600) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86_400).toFixed(1)} d`;
}

export function ago(iso: string | null, now = Date.now()): string {
  return iso === null ? "–" : `${formatDuration(now - Date.parse(iso))} ago`;
}

/** Time left before the reaper ends a personal instance. */
export function timeLeft(iso: string | null, now = Date.now()): string {
  if (iso === null) return "–";
  const ms = Date.parse(iso) - now;
  return ms <= 0 ? "expired" : formatDuration(ms);
}

/** Restore progress in one line: phase, a bar over bytes (or rows when loading), counts, rate, ETA. */
export function formatRestoreProgress(progress: RestoreProgressView, width = 24): string {
  const byRows = progress.phase === "load" && progress.totalRows > 0;
  const done = byRows ? progress.rows : progress.bytes;
  const total = byRows ? progress.totalRows : progress.totalBytes;
  const parts = [progress.phase.padEnd(8)];
  if (total > 0) {
    const fraction = Math.min(1, done / total);
    const filled = Math.round(fraction * width);
    parts.push(`[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`);
  }
  parts.push(`${formatBytes(progress.bytes)}${progress.totalBytes > 0 ? ` of ${formatBytes(progress.totalBytes)}` : ""}`);
  parts.push(`${progress.rows.toLocaleString("en-US")}${progress.totalRows > 0 ? ` of ${progress.totalRows.toLocaleString("en-US")}` : ""} rows`);
  if (progress.rate !== undefined && progress.rate > 0) parts.push(`${formatBytes(progress.rate)}/s`);
  if (progress.etaSeconds !== undefined) parts.push(`ETA ${Math.ceil(progress.etaSeconds)} s`);
  return parts.join("  ");
}

/** Short percentage for tables: "42% load". */
export function shortProgress(progress: RestoreProgressView | null | undefined): string {
  if (!progress) return "–";
  const byRows = progress.phase === "load" && progress.totalRows > 0;
  const total = byRows ? progress.totalRows : progress.totalBytes;
  if (total <= 0) return progress.phase;
  return `${Math.floor((Math.min(1, (byRows ? progress.rows : progress.bytes) / total)) * 100)}% ${progress.phase}`;
}

export const instanceHeader = ["ID", "KIND", "STATE", "SNAPSHOT", "AGE", "TTL LEFT", "DETAIL"] as const;

export function instanceRow(instance: InstanceView, now = Date.now()): string[] {
  return [
    instance.id,
    instance.kind,
    instance.state,
    instance.currentSnapshotId ?? instance.snapshotId ?? "–",
    ago(instance.createdAt, now).replace(/ ago$/, ""),
    instance.kind === "personal" ? timeLeft(instance.ttlExpiresAt, now) : "–",
    instance.stateDetail ?? "",
  ];
}
