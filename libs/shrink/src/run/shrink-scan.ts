import cassandraDriver from "cassandra-driver";
import { encodeAll, type JsonValue, type KeyspaceSchema, type PartitionScreen, type RowMapper, type TablePlan } from "@devenv/snapshot";
import { BloomFilter } from "../audit/bloom-filter.ts";
import { auditKeysOf } from "../audit/normalize-for-audit.ts";
import { ShrinkError } from "../errors.ts";
import type { KeptTablePlan, ShrinkPlan } from "../plan/shrink-plan.ts";
import { KnownValues, type KnownValueKind } from "../scrub/known-values.ts";
import { PseudonymOutputs } from "../audit/pseudonym-outputs.ts";
import { KeyOwners } from "../scrub/key-owners.ts";
import { Pseudonyms } from "../scrub/pseudonyms.ts";
import { compileTransform, type CellTransform, type PiiKind } from "../transform/cell-transform.ts";
import type { OrgScope } from "./org-scope.ts";

export interface TableSummary {
  table: string;
  action: "keep" | "drop";
  rowsRead: number;
  rowsKept: number;
  droppedByOrg: number;
  droppedByTime: number;
  cellsTransformed: number;
}

export interface ShrinkScanOptions {
  plan: ShrinkPlan;
  /** The kept tables' schema (its user types compile the transforms). */
  schema: KeyspaceSchema;
  scope: OrgScope;
  asOf: Date;
  secret: Buffer;
  /** Expected number of source PII values, to size the audit's filter. */
  expectedPiiValues: number;
}

const dayMs = 86_400_000;

/**
 * The first pass's row mapper and everything it collects: rows of organisations
 * not kept and events older than keepDays are dropped, PII cells get keyed
 * pseudonyms, and the values met feed the free-text pass and the audit.
 */
export class ShrinkScan {
  readonly known: KnownValues;
  readonly sourcePii: BloomFilter;
  /** Our own pseudonyms, for the audit: a fake name equal to a real one is not a leak. */
  readonly pseudonymOutputs: PseudonymOutputs;
  readonly summaries: Map<string, TableSummary>;
  readonly keptPlans: Map<string, KeptTablePlan>;
  // (key column, pseudonym) → the original it came from, as keyed fingerprints
  readonly #keyOwners: KeyOwners;
  readonly #compiled = new Map<
    string,
    { plan: KeptTablePlan; transforms: (CellTransform | undefined)[]; piiColumns: { index: number; kind: PiiKind }[]; partitionKeyColumns: number }
  >();
  readonly #scope: OrgScope;
  readonly #oldestKept: Map<string, number>;

  constructor(options: ShrinkScanOptions) {
    const { plan, scope } = options;
    this.#scope = scope;
    this.sourcePii = new BloomFilter(options.expectedPiiValues, 1e-9);
    this.pseudonymOutputs = new PseudonymOutputs(options.secret);
    this.known = new KnownValues({ secret: options.secret });
    this.#keyOwners = new KeyOwners(options.secret);
    this.keptPlans = new Map(plan.tables.filter((t): t is KeptTablePlan => t.action === "keep").map((t) => [t.name, t]));
    this.summaries = new Map(
      plan.tables.map((t) => [t.name, { table: t.name, action: t.action, rowsRead: 0, rowsKept: 0, droppedByOrg: 0, droppedByTime: 0, cellsTransformed: 0 }]),
    );
    this.#oldestKept = new Map(
      [...this.keptPlans.values()].flatMap((t) => (t.time ? [[t.name, options.asOf.getTime() - t.time.keepDays * dayMs] as const] : [])),
    );
    const pseudonyms = new Pseudonyms(options.secret);
    for (const table of this.keptPlans.values()) {
      const summary = this.summaries.get(table.name)!;
      const transforms = table.columns.map((column) => {
        if (column.transform === "keep") return undefined;
        const fn = compileTransform(column.transform, column.type, options.schema.types, {
          pseudonyms,
          onPii: (kind, original, pseudonym) => {
            this.known.add(kind, original, pseudonym);
            this.#addSourcePii(kind, original);
            // key-mode names carry a suffix: the bare fake is added as ours too
            this.pseudonymOutputs.add(pseudonym);
          },
          onTransformed: () => summary.cellsTransformed++,
        }, column.isKey);
        if (!column.isKey) return fn;
        // a pseudonym shared by two distinct key values would silently merge rows: fail instead
        return (value: JsonValue) => {
          const out = fn(value);
          this.#keyOwners.claim(`${table.name}.${column.name}`, JSON.stringify(out), JSON.stringify(value));
          return out;
        };
      });
      const piiColumns = table.columns.flatMap((c) =>
        typeof c.transform === "string" && ["email", "phone", "person", "company", "address"].includes(c.transform)
          ? [{ index: c.index, kind: c.transform as PiiKind }]
          : [],
      );
      const partitionKeyColumns = table.columns.filter((c) => c.kind === "partition_key").length;
      this.#compiled.set(table.name, { plan: table, transforms, piiColumns, partitionKeyColumns });
    }
  }

  readonly mapRow: RowMapper = (snapshotPlan, cells) => {
    const entry = this.#compiled.get(snapshotPlan.table.name)!;
    const summary = this.summaries.get(snapshotPlan.table.name)!;
    summary.rowsRead++;
    const { plan: table } = entry;
    if (!this.#orgKept(table, cells)) {
      summary.droppedByOrg++;
      // dropped customers' PII still feeds the audit: none of it may appear in the output
      entry.piiColumns.forEach(({ index, kind }) => this.#addSourcePii(kind, cells[index]));
      return undefined;
    }
    if (table.time && timeOf(cells[table.time.index]) < this.#oldestKept.get(table.name)!) {
      summary.droppedByTime++;
      return undefined;
    }
    const values = encodeAll(snapshotPlan, cells)!;
    for (let i = 0; i < values.length; i++) {
      const fn = entry.transforms[i];
      if (fn) values[i] = fn(values[i]!);
    }
    summary.rowsKept++;
    return values;
  };

  /**
   * Drops whole partitions when the partition key says whose they are (an
   * organisation's leads, its events of one day): their rows are counted in the
   * database, and only their PII columns are read (for the audit), instead of
   * every row crossing the wire to be dropped here. The chunks are the same.
   */
  readonly screen: PartitionScreen = {
    appliesTo: (snapshotPlan: TablePlan) => {
      const entry = this.#compiled.get(snapshotPlan.table.name);
      return entry !== undefined && entry.plan.org.kind !== "none" && entry.plan.org.index < entry.partitionKeyColumns;
    },
    screen: (snapshotPlan: TablePlan, partitionKey: readonly unknown[]) => {
      const entry = this.#compiled.get(snapshotPlan.table.name)!;
      const summary = this.summaries.get(snapshotPlan.table.name)!;
      const { plan: table } = entry;
      if (!this.#orgKept(table, partitionKey)) {
        return {
          columns: entry.piiColumns.map(({ index }) => table.columns[index]!.name),
          onRows: (rows: readonly (readonly unknown[])[], count: number) => {
            summary.rowsRead += count;
            summary.droppedByOrg += count;
            for (const row of rows) entry.piiColumns.forEach(({ kind }, i) => this.#addSourcePii(kind, row[i]));
          },
        };
      }
      if (table.time && table.time.index < entry.partitionKeyColumns && timeOf(partitionKey[table.time.index]) < this.#oldestKept.get(table.name)!) {
        return {
          columns: [],
          onRows: (_rows: readonly (readonly unknown[])[], count: number) => {
            summary.rowsRead += count;
            summary.droppedByTime += count;
          },
        };
      }
      return undefined;
    },
  };

  /**
   * This pass's findings as lines (JSON arrays), so a part's state streams to a
   * file instead of being built in memory; another scan takes them with importLine.
   */
  *exportLines(): Generator<string> {
    for (const s of this.summaries.values()) {
      yield JSON.stringify(["summary", s.table, s.rowsRead, s.rowsKept, s.droppedByOrg, s.droppedByTime, s.cellsTransformed]);
    }
    for (const k of this.known.entries()) yield JSON.stringify(["known", k.kind, k.fingerprint, k.replacement, k.length, k.first, k.last]);
    for (const fingerprint of this.pseudonymOutputs.fingerprints()) yield JSON.stringify(["output", fingerprint]);
    for (const [owner, original] of this.#keyOwners.entries()) yield JSON.stringify(["key", owner, original]);
    yield JSON.stringify(["source-pii", this.sourcePii.count, Buffer.from(this.sourcePii.toBytes()).toString("base64")]);
  }

  /** Adds one line of another part's exportLines(); a key pseudonym claimed by two distinct values across parts still fails. */
  importLine(line: string): void {
    const entry = JSON.parse(line) as [string, ...(string | number)[]];
    switch (entry[0]) {
      case "summary": {
        const [, table, rowsRead, rowsKept, droppedByOrg, droppedByTime, cellsTransformed] = entry as [string, string, number, number, number, number, number];
        const summary = this.summaries.get(table);
        if (!summary) throw new ShrinkError("failed", `a shrink part reports table ${table}, which the plan does not have`);
        summary.rowsRead += rowsRead;
        summary.rowsKept += rowsKept;
        summary.droppedByOrg += droppedByOrg;
        summary.droppedByTime += droppedByTime;
        summary.cellsTransformed += cellsTransformed;
        return;
      }
      case "known": {
        const [, kind, fingerprint, replacement, length, first, last] = entry as [string, KnownValueKind, string, string, number, number, number];
        this.known.addEntry({ kind, fingerprint, replacement, length, first, last });
        return;
      }
      case "output":
        this.pseudonymOutputs.addFingerprint(entry[1] as string);
        return;
      case "key":
        this.#keyOwners.claimFingerprints(entry[1] as string, entry[2] as string);
        return;
      case "source-pii":
        this.sourcePii.unionWith(Buffer.from(entry[2] as string, "base64"), entry[1] as number);
        return;
      default:
        throw new ShrinkError("failed", `unknown line in a shrink part's state: ${String(entry[0])}`);
    }
  }

  /** Whether the row (or partition key: the org's column comes first then) belongs to a kept organisation. */
  #orgKept(table: KeptTablePlan, cells: readonly unknown[]): boolean {
    const scope = this.#scope;
    return (
      table.org.kind === "none" ||
      (table.org.kind === "column" && scope.kept.has(String(cells[table.org.index]))) ||
      (table.org.kind === "via" && scope.viaKept.get(`${table.org.table}.${table.org.key}`)!.has(String(cells[table.org.index])))
    );
  }

  #addSourcePii(kind: PiiKind, value: unknown): void {
    if (typeof value !== "string") return;
    for (const key of auditKeysOf(kind, value)) this.sourcePii.add(key);
  }
}

/** Milliseconds since the epoch of a timestamp, date or timeuuid cell; absent times are kept. */
function timeOf(cell: unknown): number {
  if (cell instanceof Date) return cell.getTime();
  if (cell instanceof cassandraDriver.types.TimeUuid) return cell.getDate().getTime();
  if (cell instanceof cassandraDriver.types.LocalDate) return Date.parse(`${cell.toString()}T00:00:00Z`);
  return Number.POSITIVE_INFINITY;
}
