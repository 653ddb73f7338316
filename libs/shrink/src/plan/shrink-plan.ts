import type { SnapshotColumn } from "@devenv/protocol";
import { parseCqlType, type CqlType, type KeyspaceSchema, type TableSchema } from "@devenv/snapshot";
import { ShrinkError } from "../errors.ts";
import type { ShrinkRules, Transform } from "../rules/rules-schema.ts";

export interface ColumnPlan {
  name: string;
  /** Position in the table's column order (and in each chunk row). */
  index: number;
  kind: SnapshotColumn["kind"];
  type: CqlType;
  transform: Transform;
  /** Partition or clustering column: transforms must be injective here. */
  isKey: boolean;
}

export type OrgFilter =
  | { kind: "none" }
  | { kind: "column"; index: number }
  | { kind: "via"; index: number; table: string; key: string };

export interface KeptTablePlan {
  action: "keep";
  name: string;
  schema: TableSchema;
  org: OrgFilter;
  time?: { index: number; keepDays: number; type: "timestamp" | "date" | "timeuuid" };
  columns: ColumnPlan[];
  /** A key column is pseudonymised: rows move to other partitions than in the source. */
  rewritesKeys: boolean;
}

export type TableShrinkPlan = KeptTablePlan | { action: "drop"; name: string };

export interface ShrinkPlan {
  orgs: { table: string; idIndex: number; kindIndex: number };
  tables: TableShrinkPlan[];
  /** Tables whose keys decide another table's org, with the column holding the key. */
  viaSources: { table: string; key: string; keyIndex: number; orgIndex: number }[];
}

const textTypes = new Set(["text", "varchar", "ascii"]);
const piiTransforms = new Set(["email", "phone", "person", "company", "address"]);

/**
 * Checks the rules against the source schema, deny by default: every table and
 * every column must be named, and each transform must suit its column. All
 * problems are reported at once, before anything is read or written.
 */
export function planShrink(rules: ShrinkRules, schema: KeyspaceSchema): ShrinkPlan {
  const problems: string[] = [];
  const tablesByName = new Map(schema.tables.map((t) => [t.name, t]));

  const unruled = schema.tables.filter((t) => !(t.name in rules.tables)).map((t) => t.name);
  if (unruled.length > 0) problems.push(`tables without a rule (add them, or mark them drop): ${unruled.join(", ")}`);
  for (const name of Object.keys(rules.tables)) {
    if (!tablesByName.has(name)) problems.push(`tables.${name}: no such table in keyspace ${schema.keyspace}`);
  }

  const tables: TableShrinkPlan[] = [];
  for (const table of schema.tables) {
    const rule = rules.tables[table.name];
    if (rule === undefined) continue;
    if (rule === "drop") {
      tables.push({ action: "drop", name: table.name });
      continue;
    }
    const at = `tables.${table.name}`;
    const indexOf = (column: string) => table.columns.findIndex((c) => c.name === column);

    const missing = table.columns.filter((c) => !(c.name in rule.columns)).map((c) => c.name);
    if (missing.length > 0) problems.push(`${at}.columns: columns without a transform (use keep if they hold no PII): ${missing.join(", ")}`);
    for (const name of Object.keys(rule.columns)) {
      if (indexOf(name) < 0) problems.push(`${at}.columns.${name}: no such column in table ${table.name}`);
    }

    let org: OrgFilter = { kind: "none" };
    if (typeof rule.org === "string" && rule.org !== "none") {
      const index = indexOf(rule.org);
      if (index < 0) problems.push(`${at}.org: no column "${rule.org}" in table ${table.name}`);
      org = { kind: "column", index };
    } else if (typeof rule.org === "object") {
      const { table: via, column, key } = rule.org.via;
      const index = indexOf(column);
      if (index < 0) problems.push(`${at}.org.via.column: no column "${column}" in table ${table.name}`);
      const viaRule = rules.tables[via];
      const viaTable = tablesByName.get(via);
      if (!viaTable || viaRule === undefined || viaRule === "drop" || typeof viaRule.org !== "string" || viaRule.org === "none") {
        problems.push(`${at}.org.via.table: "${via}" must be a kept table whose org is a column`);
      } else if (!viaTable.columns.some((c) => c.name === key)) {
        problems.push(`${at}.org.via.key: no column "${key}" in table ${via}`);
      }
      org = { kind: "via", index, table: via, key };
    }

    let time: KeptTablePlan["time"];
    if (rule.time) {
      const index = indexOf(rule.time.column);
      const type = table.columns[index]?.type;
      if (index < 0) problems.push(`${at}.time.column: no column "${rule.time.column}" in table ${table.name}`);
      else if (type !== "timestamp" && type !== "date" && type !== "timeuuid") {
        problems.push(`${at}.time.column: "${rule.time.column}" is ${type}; expected timestamp, date or timeuuid`);
      } else time = { index, keepDays: rule.time.keepDays, type };
    }

    const columns: ColumnPlan[] = [];
    table.columns.forEach((column, index) => {
      const transform = rule.columns[column.name];
      if (transform === undefined) return;
      const isKey = column.kind === "partition_key" || column.kind === "clustering";
      const type = parseCqlType(column.type);
      for (const problem of checkTransform(transform, type, isKey, table.counter, schema)) {
        problems.push(`${at}.columns.${column.name}: ${problem}`);
      }
      columns.push({ name: column.name, index, kind: column.kind, type, transform, isKey });
    });
    const rewritesKeys = columns.some((c) => c.isKey && c.transform !== "keep");
    tables.push({ action: "keep", name: table.name, schema: table, org, time, columns, rewritesKeys });
  }

  const orgsTable = tablesByName.get(rules.orgs.table);
  const orgsRule = rules.tables[rules.orgs.table];
  const idIndex = orgsTable?.columns.findIndex((c) => c.name === rules.orgs.id) ?? -1;
  const kindIndex = orgsTable?.columns.findIndex((c) => c.name === rules.orgs.kind) ?? -1;
  if (!orgsTable) problems.push(`orgs.table: no table "${rules.orgs.table}" in keyspace ${schema.keyspace}`);
  else {
    if (idIndex < 0) problems.push(`orgs.id: no column "${rules.orgs.id}" in table ${rules.orgs.table}`);
    if (kindIndex < 0) problems.push(`orgs.kind: no column "${rules.orgs.kind}" in table ${rules.orgs.table}`);
    if (orgsRule === "drop" || (typeof orgsRule === "object" && orgsRule.org !== rules.orgs.id)) {
      problems.push(`tables.${rules.orgs.table}.org: the orgs table must be kept with org: ${rules.orgs.id}`);
    }
  }

  const viaSources = [
    ...new Map(
      tables.flatMap((t) => (t.action === "keep" && t.org.kind === "via" ? [[`${t.org.table}.${t.org.key}`, t.org] as const] : [])),
    ).values(),
  ].flatMap((via) => {
    const source = tables.find((t): t is KeptTablePlan => t.action === "keep" && t.name === via.table);
    if (!source || source.org.kind !== "column") return [];
    return [{ table: via.table, key: via.key, keyIndex: source.schema.columns.findIndex((c) => c.name === via.key), orgIndex: source.org.index }];
  });

  if (problems.length > 0) {
    throw new ShrinkError("rules-incomplete", `the rules do not cover keyspace ${schema.keyspace} safely:\n  ${problems.join("\n  ")}`);
  }
  return { orgs: { table: rules.orgs.table, idIndex, kindIndex }, tables, viaSources };
}

/** What a transform may be applied to; returns the problems found. */
function checkTransform(transform: Transform, type: CqlType, isKey: boolean, counter: boolean, schema: KeyspaceSchema): string[] {
  if (transform === "keep") return [];
  if (counter && type.kind === "native" && type.name === "counter") {
    return transform === "null" ? [] : [`counters can only be keep or null`];
  }
  if (isKey && (transform === "null" || transform === "redact" || transform === "text" || transform === "json" || typeof transform === "object")) {
    return [`${describe(transform)} cannot apply to a key column (rows would merge or vanish); use keep, hash or a pseudonym`];
  }
  // on a collection the transform applies to each element (map: to each value)
  const element = type.kind === "list" || type.kind === "set" ? type.element : type.kind === "map" ? type.value : type;
  if (typeof transform === "object" && "udt" in transform) {
    if (element.kind !== "udt") return [`udt transform on a ${type.kind} column`];
    const fields = schema.types.find((t) => t.name === element.name)?.fields ?? [];
    const named = Object.keys(transform.udt);
    const problems = fields.filter((f) => !named.includes(f.name)).map((f) => `udt field "${f.name}" has no transform`);
    problems.push(...named.filter((n) => !fields.some((f) => f.name === n)).map((n) => `udt has no field "${n}"`));
    for (const field of fields) {
      const fieldTransform = transform.udt[field.name];
      if (fieldTransform !== undefined) problems.push(...checkTransform(fieldTransform, parseCqlType(field.type), false, false, schema).map((p) => `${field.name}: ${p}`));
    }
    return problems;
  }
  const isText = element.kind === "native" && textTypes.has(element.name);
  if (transform === "json" || typeof transform === "object") {
    const isTextMap = type.kind === "map" && type.key.kind === "native" && textTypes.has(type.key.name) && isText;
    return isText || isTextMap ? [] : [`json applies to text or map<text, text>, not ${describeType(type)}`];
  }
  if (transform === "text" || transform === "redact" || piiTransforms.has(transform)) {
    const isBlob = element.kind === "native" && element.name === "blob";
    if (isText || (transform === "redact" && isBlob)) return [];
    return [`${transform} applies to text columns, not ${describeType(type)}`];
  }
  if (transform === "hash") {
    const hashable = element.kind === "native" && ["text", "varchar", "ascii", "blob", "uuid", "int", "bigint", "smallint", "tinyint", "varint"].includes(element.name);
    return hashable ? [] : [`hash applies to text, blob, uuid and integer columns, not ${describeType(type)}`];
  }
  return [];
}

function describe(transform: Transform): string {
  return typeof transform === "string" ? transform : Object.keys(transform)[0] ?? "transform";
}

function describeType(type: CqlType): string {
  return type.kind === "native" ? type.name : type.kind;
}
