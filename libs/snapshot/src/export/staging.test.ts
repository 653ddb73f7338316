import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace } from "@devenv/testing";
import { readKeyspaceSchema, userTypesOf } from "../schema/keyspace-schema.ts";
import { approximateBytes, encodeAll, maxScreenedPartitions, planTables, scanRange, stageChunks, type PartitionScreen } from "./staging.ts";
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

describe("stageChunks with a partition screen", () => {
  let client: cassandra.Client;
  let keyspace: string;
  let staging: string;

  beforeAll(async () => {
    client = await cassandraClient();
    keyspace = await createKeyspace(client, "screen");
    staging = mkdtempSync(join(tmpdir(), "devenv-screen-"));
    // 30 orgs × 4 days, 25 rows each; an org's email in a column read narrowly when its partition is dropped
    await client.execute(`CREATE TABLE ${keyspace}.events (org text, day int, seq int, email text, payload text, PRIMARY KEY ((org, day), seq))`);
    const rows = Array.from({ length: 30 * 4 * 25 }, (_, i) => [`org-${i % 30}`, Math.floor(i / 30) % 4, i, `user${i % 30}@corp.com`, `payload ${i}`]);
    for (let i = 0; i < rows.length; i += 256) {
      await Promise.all(
        rows.slice(i, i + 256).map((r) => client.execute(`INSERT INTO ${keyspace}.events (org, day, seq, email, payload) VALUES (?, ?, ?, ?, ?)`, r, { prepare: true })),
      );
    }
  }, 300_000);

  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
    rmSync(staging, { recursive: true, force: true });
  });

  const keptOrg = (org: unknown) => Number(String(org).slice(4)) % 3 === 0;
  const keptDay = (day: unknown) => Number(day) >= 2;

  async function stage(name: string, screen: PartitionScreen | undefined) {
    const schema = await readKeyspaceSchema(client, keyspace);
    const plans = await planTables(client, schema, userTypesOf(schema.types), { chunkCount: 4 });
    const dir = join(staging, name);
    mkdirSync(dir);
    let rowsRead = 0;
    const chunks = await stageChunks({
      client,
      keyspace,
      plans,
      stagingDir: dir,
      concurrency: 2,
      // pages of 10 rows: partitions of 25 are read (whole or narrowly) in several
      pageSize: 10,
      screen,
      // what a screen drops, this mapper drops too: the chunks must not tell the two apart
      mapRow: (plan, cells) => (keptOrg(cells[0]) && keptDay(cells[1]) ? encodeAll(plan, cells) : undefined),
      onRowsRead: (_plan, rows) => (rowsRead += rows),
    });
    return { hashes: chunks.sort((a, b) => a.index - b.index).map((c) => [c.index, c.rows, c.sha256]), rowsRead };
  }

  it("writes the same chunks as a row-by-row scan, reading dropped partitions only as asked", async () => {
    const narrow: string[] = [];
    let counted = 0;
    const screen: PartitionScreen = {
      appliesTo: () => true,
      screen: (_plan, [org, day]) => {
        if (!keptOrg(org)) return { columns: ["email"], onRows: (rows) => narrow.push(...rows.map((r) => String(r[0]))) };
        if (!keptDay(day)) return { columns: [], onRows: (_rows, count) => (counted += count) };
        return undefined;
      },
    };
    const plain = await stage("plain", undefined);
    const screened = await stage("screened", screen);
    expect(screened.hashes).toEqual(plain.hashes);
    expect(plain.hashes.reduce((n, [, rows]) => n + Number(rows), 0)).toBe(10 * 2 * 25);
    expect(screened.rowsRead).toBe(3000);
    expect(narrow).toHaveLength(20 * 4 * 25);
    expect(new Set(narrow)).toEqual(new Set(Array.from({ length: 30 }, (_, o) => o).filter((o) => o % 3 !== 0).map((o) => `user${o}@corp.com`)));
    expect(counted).toBe(10 * 2 * 25);
  });

  it("scans a range row by row when it holds too many partitions for a query each", async () => {
    await client.execute(`CREATE TABLE ${keyspace}.many (id int PRIMARY KEY, v text)`);
    for (let i = 0; i < maxScreenedPartitions + 100; i += 256) {
      await Promise.all(
        Array.from({ length: Math.min(256, maxScreenedPartitions + 100 - i) }, (_, j) =>
          client.execute(`INSERT INTO ${keyspace}.many (id, v) VALUES (?, ?)`, [i + j, `v${i + j}`], { prepare: true }),
        ),
      );
    }
    const schema = await readKeyspaceSchema(client, keyspace, ["many"]);
    const plans = await planTables(client, schema, userTypesOf(schema.types), { chunkCount: 1 });
    let screened = 0;
    const dir = join(staging, "many");
    mkdirSync(dir);
    const [chunk] = await stageChunks({
      client,
      keyspace,
      plans,
      stagingDir: dir,
      concurrency: 1,
      screen: { appliesTo: () => true, screen: () => (screened++, undefined) },
    });
    expect(chunk?.rows).toBe(maxScreenedPartitions + 100);
    expect(screened).toBe(0);
  });
});
