import cassandraDriver from "cassandra-driver";
import { encodeAll, type KeyspaceSchema, type PartitionScreen, type RowMapper, type TablePlan } from "@devenv/snapshot";
import { auditKeysOf } from "../audit/normalize-for-audit.ts";
import { ShrinkError } from "../errors.ts";
import type { KeptTablePlan, ShrinkPlan } from "../plan/shrink-plan.ts";
import { KnownValues, type KnownValueKind } from "../scrub/known-values.ts";
import { PseudonymOutputs } from "../audit/pseudonym-outputs.ts";
import { SourcePii } from "../audit/source-pii.ts";
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
  /** Where what the pass learns per value goes to disk (a staging directory). */
  spillDir: string;
}

const dayMs = 86_400_000;

/**
 * The first pass's row mapper and everything it collects: rows of organisations
 * not kept and events older than keepDays are dropped, PII cells get keyed
 * pseudonyms, and the values met feed the free-text pass and the audit.
 */
export class ShrinkScan {
  readonly known: KnownValues;
  readonly sourcePii: SourcePii;
  /** Our own pseudonyms, for the audit: a fake name equal to a real one is not a leak. */
  readonly pseudonymOutputs: PseudonymOutputs;
  readonly summaries: Map<string, TableSummary>;
  readonly keptPlans: Map<string, KeptTablePlan>;
  // (table, primary key after the transforms) → the primary key it came from, as keyed fingerprints
  readonly #keyOwners: KeyOwners;
  readonly #compiled = new Map<
    string,
    {
      plan: KeptTablePlan;
      transforms: (CellTransform | undefined)[];
      piiColumns: { index: number; kind: PiiKind }[];
      partitionKeyColumns: number;
      /** The primary key's columns, when a transform rewrites one of them. */
      rewrittenKey: number[] | undefined;
    }
  >();
  readonly #scope: OrgScope;
  readonly #oldestKept: Map<string, number>;

  constructor(options: ShrinkScanOptions) {
    const { plan, scope } = options;
    this.#scope = scope;
    this.sourcePii = new SourcePii({ secret: options.secret, dir: options.spillDir });
    this.pseudonymOutputs = new PseudonymOutputs(options.secret, options.spillDir);
    this.known = new KnownValues({ secret: options.secret, dir: options.spillDir });
    this.#keyOwners = new KeyOwners(options.secret, options.spillDir);
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
        return compileTransform(column.transform, column.type, options.schema.types, {
          pseudonyms,
          onPii: (kind, original, pseudonym) => {
            this.known.add(kind, original, pseudonym);
            this.#addSourcePii(kind, original);
            // key-mode names carry a suffix: the bare fake is added as ours too
            this.pseudonymOutputs.add(pseudonym);
          },
          onTransformed: () => summary.cellsTransformed++,
        }, column.isKey);
      });
      const keyColumns = table.columns.filter((c) => c.isKey);
      const rewrittenKey = keyColumns.some((c) => c.transform !== "keep") ? keyColumns.map((c) => c.index) : undefined;
      const piiColumns = table.columns.flatMap((c) =>
        typeof c.transform === "string" && ["email", "phone", "person", "company", "address"].includes(c.transform)
          ? [{ index: c.index, kind: c.transform as PiiKind }]
          : [],
      );
      const partitionKeyColumns = table.columns.filter((c) => c.kind === "partition_key").length;
      this.#compiled.set(table.name, { plan: table, transforms, piiColumns, partitionKeyColumns, rewrittenKey });
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
    const originalKey = entry.rewrittenKey && JSON.stringify(entry.rewrittenKey.map((i) => values[i]));
    for (let i = 0; i < values.length; i++) {
      const fn = entry.transforms[i];
      if (fn) values[i] = fn(values[i]!);
    }
    // two distinct rows whose keys become one would silently merge: the seal fails instead
    if (originalKey !== undefined) this.#keyOwners.claim(table.name, JSON.stringify(entry.rewrittenKey!.map((i) => values[i])), originalKey);
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
    this.seal();
    for (const k of this.known.entries()) yield JSON.stringify(["known", k.kind, k.fingerprint, k.replacement, k.length, k.first, k.last]);
    for (const batch of this.pseudonymOutputs.batches()) yield JSON.stringify(["outputs", batch]);
    for (const batch of this.#keyOwners.batches()) yield JSON.stringify(["keys", batch]);
    for (const batch of this.sourcePii.batches()) yield JSON.stringify(["source-pii", batch]);
  }

  /**
   * Ends the first pass (every part's findings imported, for a shrink in parts):
   * what it learnt is merged on disk and can be asked. Fails when a key
   * column's pseudonym stands for two values.
   */
  seal(): void {
    this.#keyOwners.seal();
    this.known.build();
    this.sourcePii.seal();
    this.pseudonymOutputs.seal();
  }

  /** Removes what went to disk. */
  close(): void {
    this.known.close();
    this.sourcePii.close();
    this.pseudonymOutputs.close();
    this.#keyOwners.close();
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
      case "outputs":
        this.pseudonymOutputs.addBatch(entry[1] as string);
        return;
      case "keys":
        this.#keyOwners.addBatch(entry[1] as string);
        return;
      case "source-pii":
        this.sourcePii.addBatch(entry[1] as string);
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
