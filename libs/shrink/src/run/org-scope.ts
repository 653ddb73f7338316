import type cassandra from "cassandra-driver";
import { scanRange, splitRing, type TableSchema } from "@devenv/snapshot";
import { ShrinkError } from "../errors.ts";
import type { ShrinkRules } from "../rules/rules-schema.ts";
import type { ShrinkPlan } from "../plan/shrink-plan.ts";
import { KeySet } from "./key-set.ts";

/** Which organisations survive, and which keys of `via` tables belong to them. */
export interface OrgScope {
  kept: Set<string>;
  orgsByKind: Record<string, number>;
  /** `${table}.${key}` → keys of that table's rows whose org is kept. */
  viaKept: Map<string, KeySet>;
}

/** Reads the orgs table (and each `via` table's key → org) once; memory: 16 bytes a kept lookup key. */
export async function resolveOrgScope(
  client: cassandra.Client,
  keyspace: string,
  rules: ShrinkRules,
  plan: ShrinkPlan,
  tables: readonly TableSchema[],
  onlyOrg: string | undefined,
): Promise<OrgScope> {
  const orgsTable = tables.find((t) => t.name === plan.orgs.table)!;
  const kept = new Set<string>();
  const orgsByKind: Record<string, number> = {};
  const all = new Set<string>();
  const orgColumns = [orgsTable.columns[plan.orgs.idIndex]!.name, orgsTable.columns[plan.orgs.kindIndex]!.name];
  for await (const [idValue, kindValue] of scanColumns(client, keyspace, orgsTable, orgColumns)) {
    const id = String(idValue);
    const kind = String(kindValue ?? "");
    all.add(id);
    orgsByKind[kind] = (orgsByKind[kind] ?? 0) + 1;
    const keep = onlyOrg !== undefined ? id === onlyOrg : "kinds" in rules.orgs.keep ? rules.orgs.keep.kinds.includes(kind) : rules.orgs.keep.ids.includes(id);
    if (keep) kept.add(id);
  }
  if (onlyOrg !== undefined && !all.has(onlyOrg)) {
    throw new ShrinkError("invalid-input", `--org ${onlyOrg}: no such organisation in ${keyspace}.${plan.orgs.table}`);
  }
  if ("ids" in rules.orgs.keep && onlyOrg === undefined) {
    const unknown = rules.orgs.keep.ids.filter((id) => !all.has(id));
    if (unknown.length > 0) throw new ShrinkError("invalid-rules", `orgs.keep.ids: no such organisation(s): ${unknown.join(", ")}`);
  }

  const viaKept = new Map<string, KeySet>();
  for (const via of plan.viaSources) {
    const table = tables.find((t) => t.name === via.table)!;
    const keys = new KeySet();
    for await (const [org, key] of scanColumns(client, keyspace, table, [table.columns[via.orgIndex]!.name, table.columns[via.keyIndex]!.name])) {
      if (kept.has(String(org))) keys.add(String(key));
    }
    viaKept.set(`${via.table}.${via.key}`, keys.freeze());
  }
  return { kept, orgsByKind, viaKept };
}

/** The named columns of every row (a lookup reads two columns of what may be the widest table). */
async function* scanColumns(client: cassandra.Client, keyspace: string, table: TableSchema, names: readonly string[]): AsyncGenerator<unknown[]> {
  // the partition key stays: the scan's token() restriction names it
  const columns = table.columns.filter((c) => c.kind === "partition_key" || names.includes(c.name));
  const positions = names.map((name) => columns.findIndex((c) => c.name === name));
  for (const range of splitRing(16)) {
    for await (const page of scanRange(client, keyspace, { ...table, columns }, range, 2000)) {
      for (const row of page) {
        const values = row.values();
        yield positions.map((p) => values[p]);
      }
    }
  }
}
