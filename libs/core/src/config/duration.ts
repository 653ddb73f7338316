import { z } from "zod";

const unitMs = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const durationPattern = /^(\d+)(ms|s|m|h|d)$/;
const durationHint = "expected a duration such as 90s, 15m, 2h or 14d (or a number of milliseconds)";

/** Milliseconds of `90s`, `15m`, `2h`, `14d` (or `500ms`); undefined when the text is not a duration. */
export function durationMs(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}

/** A duration in a config file, `"90s" | "15m" | "2h" | "14d"` or a number of milliseconds, parsed to milliseconds. */
export const Duration = z
  .union([z.number().int().min(0), z.string().regex(durationPattern, durationHint)], { error: durationHint })
  .transform((value) => (typeof value === "number" ? value : durationMs(value)!));
