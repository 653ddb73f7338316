import { chunkLines, type JsonValue } from "@devenv/snapshot";
import { firstWordKey, normalizeForAudit } from "./normalize-for-audit.ts";
import { findPii, type PiiMatch } from "../scrub/pii-patterns.ts";
import { isReservedCard, isReservedEmail, isReservedPhone } from "../scrub/pseudonyms.ts";
import { normalizeName } from "../scrub/normalize.ts";

export interface AuditFinding {
  table: string;
  column: string;
  /** The row's primary key values, as JSON. */
  rowKey: string;
  kind: "email" | "phone" | "card" | "source-value";
  /** The finding, masked so the report itself does not leak it. */
  excerpt: string;
}

export interface AuditedTable {
  name: string;
  /** `type` is the CQL type; columns whose type cannot hold text (uuid, int, timestamp …) are not scanned. */
  columns: readonly { name: string; kind: string; type?: string }[];
}

// Types whose values cannot carry text; the structural words around them neither.
const TEXTLESS_TYPE_WORDS = new Set(
  "uuid timeuuid int bigint smallint tinyint varint decimal float double boolean timestamp date time duration inet counter frozen list set map tuple vector".split(" "),
);

/** Whether cells of this CQL type can hold text (and so PII); unknown types (UDTs) can. */
export function canHoldText(type: string | undefined): boolean {
  if (type === undefined) return true;
  const words = type.toLowerCase().match(/[a-z_][a-z0-9_]*/g) ?? [];
  return words.some((word) => !TEXTLESS_TYPE_WORDS.has(word));
}

export interface AuditOptions {
  /** Normalised PII values of the source (kept and dropped rows): none may appear in the output. */
  sourcePii?: { has(key: string): boolean };
  /**
   * Our own pseudonyms: a fake name equal to a real one is not a leak. Asked
   * with lower-case text, so a Set of lower-case strings does, as does a
   * PseudonymOutputs (compact, for a whole shrink).
   */
  pseudonymOutputs?: { has(text: string): boolean };
  maxFindings?: number;
  /** After each chunk: chunks audited so far. */
  onChunk?: (chunksDone: number) => void;
}

/**
 * Scans every cell of the chunks, JSON and free text included: PII patterns that
 * are not our reserved fakes, and exact source PII values (emails, phones, and
 * runs of 2 to 4 words for names and addresses) found in the source filter.
 */
export async function auditChunks(
  chunks: readonly { table: string; path: string }[],
  tables: readonly AuditedTable[],
  options: AuditOptions = {},
): Promise<{ cellsScanned: number; findings: AuditFinding[] }> {
  const findings: AuditFinding[] = [];
  const max = options.maxFindings ?? 1000;
  let cellsScanned = 0;
  let chunksDone = 0;
  for (const chunk of chunks) {
    options.onChunk?.(chunksDone++);
    const table = tables.find((t) => t.name === chunk.table);
    if (!table) continue;
    const keyIndexes = table.columns.flatMap((c, i) => (c.kind === "partition_key" || c.kind === "clustering" ? [i] : []));
    const textual = table.columns.map((c) => canHoldText(c.type));
    for await (const line of chunkLines(chunk.path)) {
      const row = JSON.parse(line) as JsonValue[];
      for (let i = 0; i < row.length; i++) {
        if (!textual[i]) continue;
        cellsScanned++;
        forEachString(row[i] ?? null, (text) => {
          for (const finding of auditString(text, options)) {
            if (findings.length >= max) return;
            findings.push({
              table: chunk.table,
              column: table.columns[i]!.name,
              rowKey: JSON.stringify(keyIndexes.map((k) => row[k])),
              ...finding,
            });
          }
        });
      }
      if (findings.length >= max) return { cellsScanned, findings };
    }
  }
  options.onChunk?.(chunksDone);
  return { cellsScanned, findings };
}

/** Findings in one string. */
export function auditString(text: string, options: AuditOptions): { kind: AuditFinding["kind"]; excerpt: string }[] {
  const out: { kind: AuditFinding["kind"]; excerpt: string }[] = [];
  // our own fakes are cut out before the word runs: "wei.silva@example.com" is not the real Wei Silva
  let prose = text;
  for (const match of findPii(text).reverse()) {
    if (isReserved(match)) {
      prose = `${prose.slice(0, match.start)} ${prose.slice(match.end)}`;
      continue;
    }
    out.unshift({ kind: match.kind, excerpt: mask(match.value) });
  }
  const filter = options.sourcePii;
  if (filter && text.length > 0) {
    // whole value (e.g. a raw phone in an odd format) and word runs (names, addresses)
    for (const kind of ["email", "phone"] as const) {
      const key = normalizeForAudit(kind, text);
      if (key !== undefined && filter.has(key) && !isOurs(text, options)) out.push({ kind: "source-value", excerpt: mask(text) });
    }
    // a run's normal form is its words' normal forms joined: each word is normalised once, not once per run
    // (a "word" of combining marks alone normalises to nothing and is left out, as normalising the run would)
    const words: string[] = [];
    const normalized: string[] = [];
    for (const word of prose.split(/[^\p{L}\p{M}'’-]+/u)) {
      const form = word === "" ? "" : normalizeName(word);
      if (form === "") continue;
      words.push(word);
      normalized.push(form);
    }
    if (words.length >= 2) {
      // runs by where they start: a word no source run starts with (most words) costs one probe
      for (let start = 0; start + 2 <= words.length; start++) {
        if (!filter.has(firstWordKey(normalized[start]!))) continue;
        for (let n = 2; n <= 4 && start + n <= words.length; n++) {
          let key = `words:${normalized[start]!}`;
          for (let w = start + 1; w < start + n; w++) key += ` ${normalized[w]!}`;
          if (!filter.has(key)) continue;
          const phrase = words.slice(start, start + n).join(" ");
          if (!isOurs(phrase, options)) out.push({ kind: "source-value", excerpt: mask(phrase) });
        }
      }
    }
  }
  return out;
}

function isReserved(match: PiiMatch): boolean {
  switch (match.kind) {
    case "email":
      return isReservedEmail(match.value);
    case "phone":
      return isReservedPhone(match.value);
    case "card":
      return isReservedCard(match.value);
  }
}

function isOurs(text: string, options: AuditOptions): boolean {
  return options.pseudonymOutputs?.has(text.toLowerCase()) ?? false;
}

function forEachString(value: JsonValue, fn: (text: string) => void): void {
  if (typeof value === "string") {
    fn(value);
  } else if (Array.isArray(value)) {
    for (const v of value) forEachString(v, fn);
  } else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) forEachString(v, fn);
  }
}

/** Shows enough to find the value in the source, not enough to leak it. */
function mask(value: string): string {
  if (value.length <= 4) return "****";
  return `${value.slice(0, 2)}${"*".repeat(Math.min(12, value.length - 4))}${value.slice(-2)}`;
}
