import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace } from "@devenv/testing";
import { readKeyspaceSchema, userTypesOf } from "../schema/keyspace-schema.ts";
import { approximateBytes, planTables, scanRange } from "./staging.ts";
import { splitRing } from "./token-ranges.ts";

const { types } = cassandra;

describe("scanRange", () => {
  let client: cassandra.Client;
  let keyspace: string;

  beforeAll(async () => {
    client = await cassandraClient();
    keyspace = await createKeyspace(client, "scan");
    await client.execute(`CREATE TABLE ${keyspace}.wide (id int, ck int, payload text, PRIMARY KEY (id, ck))`);
    await client.execute(`CREATE TABLE ${keyspace}.narrow (id int, ck int, PRIMARY KEY (id, ck))`);
    const payload = "x".repeat(2000);
    for (let ck = 0; ck < 400; ck += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => client.execute(`INSERT INTO ${keyspace}.wide (id, ck, payload) VALUES (1, ?, ?)`, [ck + i, payload], { prepare: true })),
      );
    }
    for (let ck = 0; ck < 3000; ck += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => client.execute(`INSERT INTO ${keyspace}.narrow (id, ck) VALUES (1, ?)`, [ck + i], { prepare: true })));
    }
  }, 120_000);

  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
  });

  async function pageLengths(table: string, maxPageRows: number, pageBytes: number): Promise<number[]> {
    const schema = await readKeyspaceSchema(client, keyspace, [table]);
    const lengths: number[] = [];
    for await (const page of scanRange(client, keyspace, schema.tables[0]!, splitRing(1)[0]!, maxPageRows, pageBytes)) lengths.push(page.length);
    // a range whose rows fill the last page exactly ends with an empty one
    return lengths.filter((n) => n > 0);
  }

  it("sizes pages by bytes: a small first page, then as many rows as fit", async () => {
    const wide = await pageLengths("wide", 1000, 64 * 1024);
    expect(wide.reduce((a, b) => a + b, 0)).toBe(400);
    expect(wide[0]).toBe(64);
    // 2 KB rows in 64 KiB pages: about 32 rows a page, never the 1000 the row limit allows
    for (const length of wide.slice(1, -1)) {
      expect(length).toBeGreaterThanOrEqual(24);
      expect(length).toBeLessThanOrEqual(40);
    }
  });

  it("fills narrow rows' pages up to the row limit", async () => {
    const narrow = await pageLengths("narrow", 1000, 64 * 1024);
    expect(narrow).toEqual([64, 1000, 1000, 936]);
    expect(await pageLengths("narrow", 20, 64 * 1024)).toEqual(Array(150).fill(20));
  });
});

describe("approximateBytes", () => {
  it("counts text, bytes and what collections and UDTs hold", () => {
    expect(approximateBytes("a".repeat(100))).toBe(104);
    expect(approximateBytes(Buffer.alloc(1000))).toBe(1004);
    expect(approximateBytes(null)).toBe(4);
    expect(approximateBytes(42)).toBe(8);
    expect(approximateBytes(types.Uuid.random())).toBe(16);
    expect(approximateBytes(["ab", "cd"])).toBe(4 + 6 + 6);
    expect(approximateBytes(new Map([["k", "v".repeat(10)]]))).toBe(4 + 5 + 14);
    expect(approximateBytes(new Set(["abc"]))).toBe(4 + 7);
    expect(approximateBytes({ street: "x".repeat(50), zip: null })).toBe(4 + 54 + 4);
    expect(approximateBytes(new types.Tuple(1, "abcd"))).toBe(4 + 8 + 8);
  });
});

describe("planTables", () => {
  let client: cassandra.Client;
  let keyspace: string;
  const payload = "y".repeat(1000);

  beforeAll(async () => {
    client = await cassandraClient();
    keyspace = await createKeyspace(client, "plan");
    // 40 partitions of 200 rows of ~1 KB: 8 MB in partitions too few for thin slices of the ring to meet
    await client.execute(`CREATE TABLE ${keyspace}.few_wide (org int, id int, payload text, PRIMARY KEY (org, id))`);
    // 20,000 partitions of one ~1 KB row: 20 MB spread over the ring
    await client.execute(`CREATE TABLE ${keyspace}.many (id int PRIMARY KEY, payload text)`);
    await client.execute(`CREATE TABLE ${keyspace}.tiny (id int PRIMARY KEY, payload text)`);
    const insert = async (cql: string, rows: unknown[][]) => {
      for (let i = 0; i < rows.length; i += 256) await Promise.all(rows.slice(i, i + 256).map((params) => client.execute(cql, params, { prepare: true })));
    };
    await insert(`INSERT INTO ${keyspace}.few_wide (org, id, payload) VALUES (?, ?, ?)`, Array.from({ length: 8000 }, (_, i) => [i % 40, i, payload]));
    await insert(`INSERT INTO ${keyspace}.many (id, payload) VALUES (?, ?)`, Array.from({ length: 20_000 }, (_, i) => [i, payload]));
    await insert(`INSERT INTO ${keyspace}.tiny (id, payload) VALUES (?, ?)`, Array.from({ length: 10 }, (_, i) => [i, payload]));
  }, 300_000);

  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
  });

  it("sizes chunk counts from the data, for few large partitions as for many small ones", async () => {
    const schema = await readKeyspaceSchema(client, keyspace);
    const plans = await planTables(client, schema, userTypesOf(schema.types), { targetChunkBytes: 1024 * 1024 });
    const counts = Object.fromEntries(plans.map((p) => [p.table.name, p.ranges.length]));
    // ~8.2 MB and ~20.5 MB at 1 MiB a chunk, rounded up to a power of two; the estimate may be off by a factor of two
    expect(counts.few_wide).toBeGreaterThanOrEqual(4);
    expect(counts.few_wide).toBeLessThanOrEqual(32);
    expect(counts.many).toBeGreaterThanOrEqual(16);
    expect(counts.many).toBeLessThanOrEqual(64);
    expect(counts.tiny).toBe(1);
  });
});
