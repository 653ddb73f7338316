import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace } from "@devenv/testing";
import { readKeyspaceSchema } from "../schema/keyspace-schema.ts";
import { approximateBytes, scanRange } from "./staging.ts";
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
