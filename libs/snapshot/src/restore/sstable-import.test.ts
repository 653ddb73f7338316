import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace } from "@devenv/testing";
import { exportSnapshot } from "../export/export-snapshot.ts";
import { writeManifest } from "../export/staging.ts";
import { readManifest } from "../manifest.ts";
import type { BlobStore } from "../store/blob-store.ts";
import { openStore } from "../store/open-store.ts";
import { restoreSnapshot } from "./restore-snapshot.ts";
import { findLocalNode } from "./sstable-import.ts";
import { canonical, decimal } from "../testing/driver-values.ts";

const { types } = cassandra;

async function dump(client: cassandra.Client, ks: string, table: string): Promise<string[]> {
  const rows: string[] = [];
  const stream = client.stream(`SELECT * FROM ${ks}.${table}`, [], { prepare: true, fetchSize: 500 }) as unknown as AsyncIterable<cassandra.types.Row>;
  for await (const row of stream) rows.push(JSON.stringify(canonical(Object.fromEntries(row.keys().map((k) => [k, row.get(k)])))));
  return rows.sort();
}

/**
 * A copy of a snapshot as a snapshot not made by one token-range scan per chunk could be:
 * "chunks" lists the table's chunks in reverse order (a few sorted runs), "rows" also
 * reverses the rows inside each chunk (no order at all).
 */
async function disorderedCopy(store: BlobStore, snapshotId: string, table: string, copyId: string, what: "chunks" | "rows"): Promise<void> {
  const manifest = await readManifest(store, snapshotId);
  for (const t of manifest.tables.filter((t) => t.name === table)) {
    t.chunks.reverse();
    if (what === "chunks") continue;
    for (const chunk of t.chunks) {
      const parts: Buffer[] = [];
      for await (const part of await store.get(`chunks/${chunk.sha256}`)) parts.push(part as Buffer);
      const lines = gunzipSync(Buffer.concat(parts)).toString("utf8").split("\n").filter(Boolean).reverse();
      const gz = gzipSync(`${lines.join("\n")}\n`);
      chunk.sha256 = createHash("sha256").update(gz).digest("hex");
      chunk.bytes = gz.length;
      await store.put(`chunks/${chunk.sha256}`, gz);
    }
    t.bytes = t.chunks.reduce((n, c) => n + c.bytes, 0);
  }
  manifest.totals.bytes = manifest.tables.reduce((n, t) => n + t.bytes, 0);
  await writeManifest(store, { ...manifest, id: copyId });
}

/** A copy of a snapshot whose rows of `table` went through `edit` (the row as its JSON array). */
async function editedCopy(store: BlobStore, snapshotId: string, table: string, copyId: string, edit: (row: unknown[]) => unknown[]): Promise<void> {
  const manifest = await readManifest(store, snapshotId);
  for (const t of manifest.tables.filter((t) => t.name === table)) {
    for (const chunk of t.chunks) {
      const parts: Buffer[] = [];
      for await (const part of await store.get(`chunks/${chunk.sha256}`)) parts.push(part as Buffer);
      const lines = gunzipSync(Buffer.concat(parts)).toString("utf8").split("\n").filter(Boolean);
      const text = lines.map((line) => JSON.stringify(edit(JSON.parse(line) as unknown[]))).join("\n");
      const gz = gzipSync(`${text}\n`);
      chunk.sha256 = createHash("sha256").update(gz).digest("hex");
      chunk.bytes = gz.length;
      chunk.rawBytes = Buffer.byteLength(text) + 1;
      await store.put(`chunks/${chunk.sha256}`, gz);
    }
    t.bytes = t.chunks.reduce((n, c) => n + c.bytes, 0);
  }
  manifest.totals.bytes = manifest.tables.reduce((n, t) => n + t.bytes, 0);
  await writeManifest(store, { ...manifest, id: copyId });
}

describe("restore through SSTables imported into the local node", () => {
  let client: cassandra.Client;
  let source: string;
  let dir: string;
  let store: BlobStore;
  const tables = ["things", "tally", "indexed", "natives"];

  beforeAll(async () => {
    client = await cassandraClient();
    source = await createKeyspace(client, "sst");
    await client.execute(`CREATE TYPE ${source}.geo (lat double, tags frozen<set<text>>)`);
    await client.execute(
      `CREATE TABLE ${source}.things (org text, id bigint, at timeuuid, note text STATIC, n varint, d decimal, dur duration, ip inet,
         l list<int>, s set<text>, m map<text, frozen<list<blob>>>, place frozen<geo>, loose geo, t frozen<tuple<int, text>>,
         v vector<float, 3>, PRIMARY KEY ((org, id), at)) WITH CLUSTERING ORDER BY (at DESC)`,
    );
    await client.execute(`CREATE TABLE ${source}.tally (k int PRIMARY KEY, hits counter)`);
    await client.execute(`CREATE TABLE ${source}.indexed (k int PRIMARY KEY, tag text)`);
    await client.execute(`CREATE INDEX ON ${source}.indexed (tag)`);
    const insert = `INSERT INTO ${source}.things (org, id, at, note, n, d, dur, ip, l, s, m, place, loose, t, v) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
    for (let i = 0; i < 600; i++) {
      const full = i % 4 !== 3;
      await client.execute(
        insert,
        [
          `org-${i % 5} ✓`,
          types.Long.fromNumber(Math.floor(i / 3) * 7919 - 1000),
          types.TimeUuid.fromDate(new Date(1_700_000_000_000 + i * 1000), i % 1000, "abcdef", "ab"),
          full ? `static ${i}` : undefined,
          full ? types.Integer.fromString(`${i}123456789012345678901234567890`) : undefined,
          full ? types.BigDecimal.fromString(`-${i}.000000000000000000001`) : undefined,
          full ? types.Duration.fromString("1mo2d3h") : undefined,
          full ? types.InetAddress.fromString(i % 2 ? "::1" : "10.0.0.1") : undefined,
          full ? [i, -i, 0] : [],
          full ? new Set(["a", `b${i}`]) : undefined,
          full ? new Map([["k", [Buffer.from([i % 256]), Buffer.alloc(0)]]]) : undefined,
          full ? { lat: i / 7, tags: new Set(["x"]) } : undefined,
          full ? { lat: -0, tags: null } : undefined,
          full ? new types.Tuple(i, "t") : undefined,
          full ? new types.Vector(new Float32Array([i, 0.5, -1]), "float") : undefined,
        ],
        { prepare: true },
      );
    }
    // a partition holding only static cells
    await client.execute(`UPDATE ${source}.things SET note = 'static only' WHERE org = 'lonely' AND id = 1`);
    // every native type in single cells: the helper writes such rows without the CQL layer
    await client.execute(
      `CREATE TABLE ${source}.natives (org text, id bigint, at timeuuid, note text STATIC, hits bigint STATIC, a ascii, b blob, bo boolean,
         da date, de decimal, do double, du duration, f float, ip inet, i int, si smallint, t text, ti time, ts timestamp, tt tinyint,
         u uuid, vi varint, PRIMARY KEY ((org, id), at)) WITH CLUSTERING ORDER BY (at DESC)`,
    );
    const texts = ["", "plain", "emoji 🙂 and 漢字", 'line\nbreak "quotes" \\ back\ttab \u0001', "{\"json\":[1,\"two\"]}"];
    for (let i = 0; i < 300; i++) {
      const none = i % 7 === 6;
      await client.execute(
        `INSERT INTO ${source}.natives (org, id, at, note, hits, a, b, bo, da, de, do, du, f, ip, i, si, t, ti, ts, tt, u, vi)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          `org ${i % 3} ✓`,
          types.Long.fromNumber(Math.floor(i / 4) * 7919 - 500),
          types.TimeUuid.fromDate(new Date(1_700_000_000_000 + i * 1000), i % 1000, "abcdef", "ab"),
          i % 5 === 0 ? undefined : `static ${Math.floor(i / 4)}`,
          i % 3 === 0 ? undefined : types.Long.fromNumber(i * 1_000_003),
          none ? undefined : `ascii ${i} ~!`,
          none ? undefined : i % 4 === 0 ? Buffer.alloc(0) : Buffer.from([i % 256, 0, 255]),
          none ? undefined : i % 2 === 0,
          none ? undefined : types.LocalDate.fromString(["1970-01-01", "-0200-03-04", "9999-12-31", "2024-02-29"][i % 4]!),
          none ? undefined : [decimal("1", 21), decimal("-1234567890123456789012345678905", 1), decimal("7", 0), decimal("-50", 2), decimal("1", -30), decimal("-7", -2147483648)][i % 6],
          none ? undefined : [Number.NaN, Number.POSITIVE_INFINITY, -0, 1 / 3, -1e308, 5e-324][i % 6],
          none ? undefined : types.Duration.fromString(["1y2mo3w4d5h6m7s8ms9us10ns", "-3d", "0s", "89h"][i % 4]!),
          none ? undefined : [1.5, -0, Number.NEGATIVE_INFINITY, 3.4028234663852886e38, Number.NaN][i % 5],
          none ? undefined : types.InetAddress.fromString(["10.1.2.3", "2001:db8::ff00:42:8329", "::1", "fe80::1:2:3:4:5:6"][i % 4]!),
          none ? undefined : [2147483647, -2147483648, 0, i][i % 4],
          none ? undefined : [32767, -32768, 7][i % 3],
          none ? undefined : texts[i % texts.length],
          none ? undefined : types.LocalTime.fromString(["00:00:00", "23:59:59.999999999", "12:34:56.000000789"][i % 3]!),
          none ? undefined : new Date([-62135596800000, 0, 253402300799999, 1_700_000_000_123][i % 4]!),
          none ? undefined : [127, -128, 0][i % 3],
          none ? undefined : types.Uuid.fromString(`00000000-0000-4000-8000-${String(i).padStart(12, "0")}`),
          none ? undefined : types.Integer.fromString(["-170141183460469231731687303715884105728000", "0", "98765432109876543210", "-1", "128", "-129"][i % 6]!),
        ],
        { prepare: true },
      );
    }
    await client.execute(`UPDATE ${source}.natives SET note = 'static only' WHERE org = 'lonely' AND id = 1`);
    for (let k = 0; k < 200; k++) {
      await client.execute(`UPDATE ${source}.tally SET hits = hits + ? WHERE k = ?`, [types.Long.fromNumber(k * 3 - 50), k], { prepare: true });
      await client.execute(`INSERT INTO ${source}.indexed (k, tag) VALUES (?, ?)`, [k, `tag-${k % 9}`], { prepare: true });
    }
    dir = mkdtempSync(join(tmpdir(), "devenv-sst-"));
    store = openStore(join(dir, "store"));
    await exportSnapshot({ client, keyspace: source, store, snapshotId: "sorted", chunkCount: 4 });
  });

  afterAll(async () => {
    await client?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("finds the test node on this machine", async () => {
    expect(await findLocalNode(client)).toMatchObject({ jmxPort: expect.any(Number), partitioner: expect.stringMatching(/Partitioner$/) });
  });

  it("imports tables without counters or indexes as SSTables, and their cells equal the source and a CQL load", async () => {
    const viaSSTables = `${source}_a`;
    const viaCql = `${source}_b`;
    const work = join(dir, "work");
    const notes: string[] = [];
    const imported = await restoreSnapshot({
      store,
      snapshotId: "sorted",
      client,
      keyspace: viaSSTables,
      workDir: work,
      cacheDir: join(dir, "cache"),
      onNote: (note) => notes.push(note),
    });
    expect(imported.importedTables).toEqual(["natives", "things"]);
    // the helper read every value of the chunk files itself
    expect(notes).toEqual([]);
    const byCql = await restoreSnapshot({ store, snapshotId: "sorted", client, keyspace: viaCql, workDir: work, loadPath: "cql" });
    expect(byCql.importedTables).toEqual([]);
    for (const table of tables) {
      const expected = await dump(client, source, table);
      expect(expected.length).toBeGreaterThan(0);
      expect(await dump(client, viaSSTables, table)).toEqual(expected);
      expect(await dump(client, viaCql, table)).toEqual(expected);
    }
    expect((await client.execute(`SELECT k FROM ${viaSSTables}.indexed WHERE tag = 'tag-3'`)).rowLength).toBe(22);
  });

  it("writes valid SSTables from chunks that are not in token order", async () => {
    await disorderedCopy(store, "sorted", "things", "chunks-reversed", "chunks");
    const target = `${source}_c`;
    const result = await restoreSnapshot({ store, snapshotId: "chunks-reversed", client, keyspace: target, workDir: join(dir, "work"), cacheDir: join(dir, "cache") });
    expect(result.importedTables).toEqual(["natives", "things"]);
    expect(await dump(client, target, "things")).toEqual(await dump(client, source, "things"));
  });

  it("encodes the rows here when the helper does not read a value as the driver would, exactly", async () => {
    // a float as a numeric string: the driver takes it, the helper only reads the forms the exporter writes
    const manifest = await readManifest(store, "sorted");
    const v = manifest.tables.find((t) => t.name === "things")!.columns.findIndex((c) => c.name === "v");
    await editedCopy(store, "sorted", "things", "float-strings", (row) => {
      const vector = row[v] as number[] | null;
      if (vector) row[v] = [vector[0], String(vector[1]), vector[2]];
      return row;
    });
    const target = `${source}_e`;
    const notes: string[] = [];
    const result = await restoreSnapshot({
      store,
      snapshotId: "float-strings",
      client,
      keyspace: target,
      workDir: join(dir, "work"),
      cacheDir: join(dir, "cache"),
      onNote: (note) => notes.push(note),
    });
    expect(notes.join("\n")).toMatch(/does not read every value of things .*bad floating-point value 0\.5.*encoding its rows here/);
    expect(result.importedTables).toEqual(["natives", "things"]);
    expect(await dump(client, target, "things")).toEqual(await dump(client, source, "things"));
  });

  it("loads rows in no token order by CQL instead, exactly", async () => {
    await disorderedCopy(store, "sorted", "things", "rows-reversed", "rows");
    const target = `${source}_d`;
    const notes: string[] = [];
    const result = await restoreSnapshot({
      store,
      snapshotId: "rows-reversed",
      client,
      keyspace: target,
      workDir: join(dir, "work"),
      cacheDir: join(dir, "cache"),
      onNote: (note) => notes.push(note),
    });
    expect(notes.join("\n")).toMatch(/not in token order.*loading the rest by CQL/);
    expect(result.importedTables).toEqual(["natives"]);
    expect(await dump(client, target, "things")).toEqual(await dump(client, source, "things"));
  });
});
