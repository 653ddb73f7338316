import { randomBytes } from "node:crypto";
import cassandra from "cassandra-driver";
import { inject } from "vitest";

/** What the run's global setup (test/harness/global-setup.ts) provides to every test. */
export interface ServicesInfo {
  cassandra: { contactPoint: string; localDataCenter: string };
  moto: { endpoint: string };
  postgres: { url: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    services: ServicesInfo;
  }
}

export function services(): ServicesInfo {
  return inject("services");
}

/** A name no other test in this run uses: tests isolate by keyspace, database and bucket. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(5).toString("hex")}`;
}

/** A client for the run's Cassandra with the settings the snapshot code relies on (Map/Set collections). */
export async function cassandraClient(): Promise<cassandra.Client> {
  const { contactPoint, localDataCenter } = services().cassandra;
  const client = new cassandra.Client({
    contactPoints: [contactPoint],
    localDataCenter,
    encoding: { map: Map, set: Set, useUndefinedAsUnset: true },
  });
  await client.connect();
  return client;
}

/** Creates a fresh keyspace (SimpleStrategy, RF 1) and returns its name. */
export async function createKeyspace(client: cassandra.Client, prefix = "t"): Promise<string> {
  const keyspace = uniqueName(prefix);
  await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
  return keyspace;
}

/** Every row of a table, paged (tests' tables are small enough to hold). */
export async function selectAll(client: cassandra.Client, keyspace: string, table: string): Promise<cassandra.types.Row[]> {
  const rows: cassandra.types.Row[] = [];
  let pageState: string | undefined;
  do {
    const page = await client.execute(`SELECT * FROM ${keyspace}.${table}`, [], { prepare: true, fetchSize: 1000, pageState });
    rows.push(...page.rows);
    pageState = page.pageState ?? undefined;
  } while (pageState);
  return rows;
}
