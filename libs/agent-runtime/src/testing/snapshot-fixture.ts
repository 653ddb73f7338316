import type cassandra from "cassandra-driver";
import { createKeyspace } from "@devenv/testing";
import { exportSnapshot, LocalDirStore } from "@devenv/snapshot";

/**
 * A source keyspace with a regular and a counter table (a few thousand rows), exported
 * into `storeDir` as `snapshotId`.
 */
export async function exportTestSnapshot(
  client: cassandra.Client,
  options: { storeDir: string; snapshotId: string; items: number; tallies: number; chunkCount: number },
): Promise<string> {
  const keyspace = await createKeyspace(client, "src");
  await client.execute(`CREATE TABLE ${keyspace}.items (id int PRIMARY KEY, name text, tags set<text>)`);
  await client.execute(`CREATE TABLE ${keyspace}.tallies (k int PRIMARY KEY, n counter)`);
  const writes: Promise<unknown>[] = [];
  const flush = async () => {
    await Promise.all(writes.splice(0));
  };
  for (let i = 0; i < options.items; i++) {
    writes.push(client.execute(`INSERT INTO ${keyspace}.items (id, name, tags) VALUES (?, ?, ?)`, [i, `item ${i} ${"x".repeat(40)}`, new Set([`t${i % 7}`])], { prepare: true }));
    if (writes.length >= 128) await flush();
  }
  for (let k = 0; k < options.tallies; k++) {
    writes.push(client.execute(`UPDATE ${keyspace}.tallies SET n = n + ? WHERE k = ?`, [String(k * 3 + 1), k], { prepare: true }));
    if (writes.length >= 128) await flush();
  }
  await flush();
  await exportSnapshot({ client, keyspace, store: new LocalDirStore(options.storeDir), snapshotId: options.snapshotId, chunkCount: options.chunkCount });
  return keyspace;
}

/** Every row of a table as sorted JSON strings, for row-by-row comparison. */
export async function rowsOf(client: cassandra.Client, keyspace: string, table: string): Promise<string[]> {
  const rows: string[] = [];
  const stream = client.stream(`SELECT * FROM ${keyspace}.${table}`, [], { prepare: true, fetchSize: 2000 }) as unknown as AsyncIterable<cassandra.types.Row>;
  for await (const row of stream) rows.push(JSON.stringify(row.keys().map((key) => [key, String(row.get(key) instanceof Set ? [...(row.get(key) as Set<unknown>)].sort() : row.get(key))])));
  return rows.sort();
}
