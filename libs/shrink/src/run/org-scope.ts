import type cassandra from "cassandra-driver";
import { scanRange, splitRing, type TableSchema } from "@devenv/snapshot";
import { ShrinkError } from "../errors.ts";
import type { ShrinkRules } from "../rules/rules-schema.ts";
import type { ShrinkPlan } from "../plan/shrink-plan.ts";

/** Which organisations survive, and which keys of `via` tables belong to them. */
export interface OrgScope {
  kept: Set<string>;
  orgsByKind: Record<string, number>;
  /** `${table}.${key}` → keys of that table's rows whose org is kept. */
  viaKept: Map<string, Set<string>>;
}

/** Reads the orgs table (and each `via` table's key → org) once; memory is bounded by the kept orgs' rows. */
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
  for await (const row of scanTable(client, keyspace, orgsTable)) {
    const id = String(row[plan.orgs.idIndex]);
    const kind = String(row[plan.orgs.kindIndex] ?? "");
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

  const viaKept = new Map<string, Set<string>>();
  for (const via of plan.viaSources) {
    const table = tables.find((t) => t.name === via.table)!;
    const keys = new Set<string>();
    for await (const row of scanTable(client, keyspace, table)) {
      if (kept.has(String(row[via.orgIndex]))) keys.add(String(row[via.keyIndex]));
    }
    viaKept.set(`${via.table}.${via.key}`, keys);
  }
  return { kept, orgsByKind, viaKept };
}

async function* scanTable(client: cassandra.Client, keyspace: string, table: TableSchema): AsyncGenerator<unknown[]> {
  for (const range of splitRing(16)) {
    for await (const page of scanRange(client, keyspace, table, range, 2000)) {
      for (const row of page) yield row.values();
    }
  }
}
