import type cassandra from "cassandra-driver";
import type { SnapshotColumn, SnapshotUserType } from "@devenv/protocol";
import { parseCqlType, quoteIdentifier, type CqlType } from "../cql/cql-type.ts";
import type { UserTypes } from "../cql/value-codec.ts";
import { SnapshotError } from "../errors.ts";

export interface TableSchema {
  name: string;
  /** Partition key, clustering key (each by position), then static and regular columns by name. */
  columns: SnapshotColumn[];
  counter: boolean;
  defaultTtl: number;
}

export interface KeyspaceSchema {
  keyspace: string;
  cassandraVersion: string | undefined;
  /** In dependency order: a type comes after the types its fields use. */
  types: SnapshotUserType[];
  tables: TableSchema[];
  /** CQL DDL without keyspace qualifiers: types, tables, then indexes. */
  statements: string[];
}

const kindOrder: Record<SnapshotColumn["kind"], number> = { partition_key: 0, clustering: 1, static: 2, regular: 3 };

/** Reads a keyspace's types, tables and indexes from system_schema. */
export async function readKeyspaceSchema(
  client: cassandra.Client,
  keyspace: string,
  onlyTables?: readonly string[],
): Promise<KeyspaceSchema> {
  const ks = await client.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", [keyspace], {
    prepare: true,
  });
  if (ks.rowLength === 0) throw new SnapshotError("not-found", `keyspace "${keyspace}" does not exist`);

  const [typeRows, tableRows, columnRows, indexRows, version] = await Promise.all([
    client.execute("SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = ?", [keyspace], { prepare: true }),
    client.execute(
      "SELECT table_name, flags, default_time_to_live FROM system_schema.tables WHERE keyspace_name = ?",
      [keyspace],
      { prepare: true },
    ),
    client.execute(
      "SELECT table_name, column_name, clustering_order, kind, position, type FROM system_schema.columns WHERE keyspace_name = ?",
      [keyspace],
      { prepare: true },
    ),
    client.execute("SELECT table_name, index_name, kind, options FROM system_schema.indexes WHERE keyspace_name = ?", [keyspace], {
      prepare: true,
    }),
    client.execute("SELECT release_version FROM system.local"),
  ]);

  const types = orderTypes(
    typeRows.rows.map((r) => ({
      name: r.get("type_name") as string,
      fields: (r.get("field_names") as string[]).map((name, i) => ({ name, type: (r.get("field_types") as string[])[i] ?? "" })),
    })),
  );

  const allTables = tableRows.rows.map((r) => r.get("table_name") as string).sort();
  if (onlyTables) {
    const missing = onlyTables.filter((t) => !allTables.includes(t));
    if (missing.length > 0) {
      throw new SnapshotError("not-found", `table(s) not in keyspace "${keyspace}": ${missing.join(", ")}`);
    }
  }
  const chosen = onlyTables ? allTables.filter((t) => onlyTables.includes(t)) : allTables;

  const tables: TableSchema[] = chosen.map((name) => {
    const tableRow = tableRows.rows.find((r) => r.get("table_name") === name);
    const flags = (tableRow?.get("flags") as Set<string> | string[] | null) ?? [];
    const columns = columnRows.rows
      .filter((r) => r.get("table_name") === name)
      .map(
        (r): SnapshotColumn => ({
          name: r.get("column_name") as string,
          type: r.get("type") as string,
          kind: r.get("kind") as SnapshotColumn["kind"],
          position: Math.max(0, r.get("position") as number),
          clusteringOrder: r.get("clustering_order") as SnapshotColumn["clusteringOrder"],
        }),
      )
      .sort((a, b) => kindOrder[a.kind] - kindOrder[b.kind] || a.position - b.position || a.name.localeCompare(b.name));
    return {
      name,
      columns,
      counter: [...flags].includes("counter"),
      defaultTtl: (tableRow?.get("default_time_to_live") as number | null) ?? 0,
    };
  });

  const statements = [
    ...types.map(createTypeStatement),
    ...tables.map(createTableStatement),
    ...indexRows.rows
      .filter((r) => chosen.includes(r.get("table_name") as string))
      .map((r) =>
        createIndexStatement(
          r.get("table_name") as string,
          r.get("index_name") as string,
          r.get("kind") as string,
          (r.get("options") as Map<string, string> | Record<string, string> | null) ?? {},
        ),
      )
      .sort(),
  ];
  const releaseVersion = version.first()?.get("release_version") as string | undefined;
  return { keyspace, cassandraVersion: releaseVersion, types, tables, statements };
}

export function userTypesOf(types: readonly SnapshotUserType[]): UserTypes {
  return new Map(types.map((t) => [t.name, t.fields.map((f) => ({ name: f.name, type: parseCqlType(f.type) }))]));
}

export function createTypeStatement(type: SnapshotUserType): string {
  const fields = type.fields.map((f) => `${quoteIdentifier(f.name)} ${f.type}`).join(", ");
  return `CREATE TYPE ${quoteIdentifier(type.name)} (${fields})`;
}

export function createTableStatement(table: TableSchema): string {
  const q = quoteIdentifier;
  const defs = table.columns.map((c) => `${q(c.name)} ${c.type}${c.kind === "static" ? " STATIC" : ""}`);
  const partition = table.columns.filter((c) => c.kind === "partition_key").map((c) => q(c.name));
  const clustering = table.columns.filter((c) => c.kind === "clustering");
  const key = [`(${partition.join(", ")})`, ...clustering.map((c) => q(c.name))].join(", ");
  const options: string[] = [];
  if (clustering.length > 0) {
    options.push(`CLUSTERING ORDER BY (${clustering.map((c) => `${q(c.name)} ${c.clusteringOrder === "desc" ? "DESC" : "ASC"}`).join(", ")})`);
  }
  if (table.defaultTtl > 0) options.push(`default_time_to_live = ${table.defaultTtl}`);
  const withClause = options.length > 0 ? ` WITH ${options.join(" AND ")}` : "";
  return `CREATE TABLE ${q(table.name)} (${defs.join(", ")}, PRIMARY KEY (${key}))${withClause}`;
}

function createIndexStatement(
  table: string,
  name: string,
  kind: string,
  options: Map<string, string> | Record<string, string>,
): string {
  const get = (k: string) => (options instanceof Map ? options.get(k) : options[k]);
  const target = get("target") ?? "";
  const className = get("class_name");
  // the target is stored as printed: a column name, or keys(c) / values(c) / entries(c) / full(c)
  const on = /^\w+\(.*\)$/.test(target) ? target : quoteIdentifier(target);
  const using =
    kind === "CUSTOM" && className
      ? className.endsWith("StorageAttachedIndex")
        ? " USING 'sai'"
        : ` USING '${className.replaceAll("'", "''")}'`
      : "";
  return `CREATE INDEX ${quoteIdentifier(name)} ON ${quoteIdentifier(table)} (${on})${using}`;
}

/** Orders user types so each comes after the types its fields reference. */
function orderTypes(types: SnapshotUserType[]): SnapshotUserType[] {
  const byName = new Map(types.map((t) => [t.name, t]));
  const done = new Set<string>();
  const ordered: SnapshotUserType[] = [];
  const visit = (type: SnapshotUserType) => {
    if (done.has(type.name)) return;
    done.add(type.name);
    for (const field of type.fields) {
      for (const used of referencedUserTypes(parseCqlType(field.type))) {
        const dependency = byName.get(used);
        if (dependency) visit(dependency);
      }
    }
    ordered.push(type);
  };
  for (const type of [...types].sort((a, b) => a.name.localeCompare(b.name))) visit(type);
  return ordered;
}

function referencedUserTypes(type: CqlType): string[] {
  switch (type.kind) {
    case "native":
      return [];
    case "udt":
      return [type.name];
    case "list":
    case "set":
    case "vector":
      return referencedUserTypes(type.element);
    case "map":
      return [...referencedUserTypes(type.key), ...referencedUserTypes(type.value)];
    case "tuple":
      return type.elements.flatMap(referencedUserTypes);
  }
}
