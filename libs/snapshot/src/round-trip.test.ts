import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace, services, uniqueName } from "@devenv/testing";
import { exportSnapshot } from "./export/export-snapshot.ts";
import { restoreSnapshot } from "./restore/restore-snapshot.ts";
import { openStore } from "./store/open-store.ts";
import type { BlobStore } from "./store/blob-store.ts";
import { canonical, decimal } from "./testing/driver-values.ts";
import { S3Client, CreateBucketCommand } from "@aws-sdk/client-s3";

const { types } = cassandra;

// Every CQL type Cassandra 5 has, in keys, statics, collections, tuples and nested UDTs.
const schema = (ks: string) => [
  `CREATE TYPE ${ks}.point (x double, y double)`,
  `CREATE TYPE ${ks}.address (street text, city text, geo frozen<point>, tags frozen<set<text>>)`,
  `CREATE TYPE ${ks}.contact (name text, addresses frozen<list<frozen<address>>>, phones frozen<map<text, text>>)`,
  `CREATE TABLE ${ks}.all_types (
     id int, bucket text, ck_time timestamp, ck_uuid timeuuid,
     s_note text STATIC, s_count bigint STATIC,
     c_ascii ascii, c_bigint bigint, c_blob blob, c_boolean boolean, c_date date, c_decimal decimal,
     c_double double, c_duration duration, c_float float, c_inet inet, c_int int, c_smallint smallint,
     c_text text, c_time time, c_timestamp timestamp, c_timeuuid timeuuid, c_tinyint tinyint, c_uuid uuid,
     c_varchar varchar, c_varint varint,
     l_int list<int>, s_text set<text>, m_text_int map<text, int>, m_uuid_blob map<uuid, blob>,
     f_list frozen<list<bigint>>, f_set frozen<set<inet>>, f_map frozen<map<date, decimal>>,
     nested map<text, frozen<list<frozen<map<int, text>>>>>, set_of_tuples set<frozen<tuple<int, text>>>,
     tup frozen<tuple<int, text, frozen<list<varint>>, frozen<point>>>,
     addr frozen<address>, contact frozen<contact>, loose_point point,
     vec vector<float, 3>, vec_text vector<text, 2>,
     PRIMARY KEY ((id, bucket), ck_time, ck_uuid)
   ) WITH CLUSTERING ORDER BY (ck_time DESC, ck_uuid ASC)`,
  `CREATE TABLE ${ks}.hits (page text, day date, views counter, clicks counter, PRIMARY KEY (page, day))`,
  `CREATE TABLE ${ks}.blob_keys (k blob PRIMARY KEY, v text) WITH default_time_to_live = 0`,
];

const point = (x: number, y: number) => ({ x, y });

/** Row values chosen for their edges: extremes, precision, empties, unicode, nulls. */
function rowValues(i: number) {
  const base = {
    id: i % 7,
    bucket: i % 2 === 0 ? "even" : "ödd ✓",
    ck_time: new Date(Date.UTC(2026, 0, 1) - i * 3_600_000 * 13),
    ck_uuid: types.TimeUuid.fromDate(new Date(1_700_000_000_000 + i), i % 9999, "abcdef", "ab"),
  };
  if (i % 5 === 4) return base; // a row with every regular cell absent
  return {
    ...base,
    c_ascii: `ascii-${i}`,
    c_bigint: [types.Long.MAX_VALUE, types.Long.MIN_VALUE, types.Long.fromNumber(-i)][i % 3],
    c_blob: i % 4 === 0 ? Buffer.alloc(0) : Buffer.from(Array.from({ length: 32 }, (_, j) => (i * 31 + j) % 256)),
    c_boolean: i % 2 === 0,
    c_date: [types.LocalDate.fromString("1970-01-01"), types.LocalDate.fromString("-0200-03-04"), types.LocalDate.fromString("9999-12-31")][i % 3],
    // scales positive, zero and negative (1E+30, -7E+2147483648: unscaled 1 and -7, scales -30 and the least int)
    c_decimal: [decimal("1", 21), decimal("-1234567890123456789012345678905", 1), decimal("1", -30), decimal("0", -3), decimal("-7", -2147483648), decimal("-50", 2)][i % 6],
    c_double: [Number.NaN, Number.POSITIVE_INFINITY, -0, 1 / 3, -1e308][i % 5],
    c_duration: types.Duration.fromString(["1y2mo3w4d5h6m7s8ms9us10ns", "-3d", "0s"][i % 3]!),
    c_float: [1.5, -0, Number.NEGATIVE_INFINITY, 3.4028234663852886e38][i % 4],
    c_inet: types.InetAddress.fromString(i % 2 === 0 ? "10.1.2.3" : "2001:db8::ff00:42:8329"),
    c_int: [2147483647, -2147483648, 0, i][i % 4],
    c_smallint: [32767, -32768, 7][i % 3],
    c_text: ["", "plain", "emoji 🙂 and 漢字", "line\nbreak \"quotes\" \\ back"][i % 4],
    c_time: types.LocalTime.fromString(["00:00:00", "23:59:59.999999999", "12:34:56.000000789"][i % 3]!),
    c_timestamp: new Date([-62135596800000, 0, 253402300799999][i % 3]!),
    c_timeuuid: types.TimeUuid.fromDate(new Date(1_600_000_000_000 + i * 1000)),
    c_tinyint: [127, -128, 0][i % 3],
    c_uuid: types.Uuid.random(),
    c_varchar: `varchar ${i}`,
    c_varint: types.Integer.fromString(["-170141183460469231731687303715884105728000", "0", "98765432109876543210"][i % 3]!),
    l_int: [3, 1, 2, 1],
    s_text: new Set(["b", "a", `v${i}`]),
    m_text_int: new Map([["z", 26], ["a", 1]]),
    m_uuid_blob: new Map([[types.Uuid.fromString("00000000-0000-0000-0000-00000000000" + (i % 10)), Buffer.from("ff00", "hex")]]),
    f_list: i % 3 === 0 ? [] : [types.Long.fromNumber(i), types.Long.ONE],
    f_set: new Set([types.InetAddress.fromString("127.0.0.1"), types.InetAddress.fromString("::1")]),
    f_map: new Map([
      [types.LocalDate.fromString("2020-02-29"), decimal("314", 2)],
      [types.LocalDate.fromString("2020-03-01"), decimal("12", -5)],
    ]),
    nested: new Map([["k", [new Map([[1, "one"], [2, "two"]]), new Map([[3, "three"]])]]]),
    set_of_tuples: new Set([new types.Tuple(1, "a"), new types.Tuple(2, null)]),
    tup: new types.Tuple(i, i % 2 ? null : "t", [types.Integer.fromNumber(-1)], point(1.25, -2.5)),
    addr: { street: "1 Main St", city: null, geo: point(0.1, 0.2), tags: new Set(["home"]) },
    contact: {
      name: "Ann",
      addresses: [{ street: "a", city: "b", geo: null, tags: null }],
      phones: new Map([["work", "+1 555 0100"]]),
    },
    loose_point: point(i, -i),
    vec: new types.Vector(new Float32Array([0.5, -1.25, i]), "float"),
    vec_text: new types.Vector(["x", `y${i}`], "text"),
  };
}

async function populate(client: cassandra.Client, ks: string) {
  for (const statement of schema(ks)) await client.execute(statement);
  const rows = Array.from({ length: 120 }, (_, i) => rowValues(i));
  for (const row of rows) {
    const names = Object.keys(row);
    await client.execute(`INSERT INTO ${ks}.all_types (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`, Object.values(row), {
      prepare: true,
    });
  }
  // statics: one partition with statics and rows, one with statics only
  await client.execute(`UPDATE ${ks}.all_types SET s_note = 'static ✓', s_count = 42 WHERE id = 0 AND bucket = 'even'`);
  await client.execute(`UPDATE ${ks}.all_types SET s_note = 'static only' WHERE id = 100 AND bucket = 'lonely'`);
  for (let i = 0; i < 40; i++) {
    await client.execute(`UPDATE ${ks}.hits SET views = views + ?, clicks = clicks + ? WHERE page = ? AND day = ?`, [
      types.Long.fromNumber(i * 1000 + 7),
      types.Long.fromNumber(-i),
      `/page/${i % 9}`,
      types.LocalDate.fromString(`2026-01-${String((i % 28) + 1).padStart(2, "0")}`),
    ], { prepare: true });
  }
  await client.execute(`UPDATE ${ks}.hits SET views = views + 1 WHERE page = 'only-views' AND day = '2026-02-01'`);
  await client.execute(`INSERT INTO ${ks}.blob_keys (k, v) VALUES (0x00ff, 'x')`);
  await client.execute(`INSERT INTO ${ks}.blob_keys (k) VALUES (0x01)`);
}

async function dump(client: cassandra.Client, ks: string, table: string): Promise<unknown[]> {
  const rows: unknown[] = [];
  const stream = client.stream(`SELECT * FROM ${ks}.${table}`, [], { prepare: true, fetchSize: 50 }) as unknown as AsyncIterable<cassandra.types.Row>;
  for await (const row of stream) {
    rows.push(canonical(Object.fromEntries(row.keys().map((k) => [k, row.get(k)]))));
  }
  return rows.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

describe.each(["local", "s3"] as const)("snapshot round trip through the %s store", (kind) => {
  let client: cassandra.Client;
  let source: string;
  let store: BlobStore;
  let workDir: string;

  beforeAll(async () => {
    client = await cassandraClient();
    source = await createKeyspace(client, "src");
    await populate(client, source);
    workDir = mkdtempSync(join(tmpdir(), "devenv-rt-"));
    if (kind === "local") {
      store = openStore(join(workDir, "store"));
    } else {
      const endpoint = services().moto.endpoint;
      const bucket = uniqueName("rt").replace(/_/g, "-");
      const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "x", secretAccessKey: "x" } });
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      store = openStore(`s3://${bucket}/snapshots-test`, { s3: { endpoint, credentials: { accessKeyId: "x", secretAccessKey: "x" } } });
    }
  });

  afterAll(async () => {
    await client?.shutdown();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("restores every type cell by cell into another keyspace", async () => {
    const manifest = await exportSnapshot({ client, keyspace: source, store, snapshotId: "first", chunkCount: 4 });
    expect(manifest.tables.map((t) => t.name)).toEqual(["all_types", "blob_keys", "hits"]);
    expect(manifest.totals.rows).toBe(120 + 1 + 41 + 2);
    const target = uniqueName("dst");
    const notes: string[] = [];
    const result = await restoreSnapshot({ store, snapshotId: "first", client, keyspace: target, workDir: join(workDir, "work"), onNote: (n) => notes.push(n) });
    expect(result.rows).toBe(manifest.totals.rows);
    // on this local node the tables without counters are written as SSTables by the helper,
    // which reads every value of their chunk files itself (no note that it could not)
    expect(result.importedTables).toEqual(["all_types", "blob_keys"]);
    expect(notes).toEqual([]);
    const expectedRows = { all_types: 121, hits: 41, blob_keys: 2 };
    for (const [table, count] of Object.entries(expectedRows)) {
      const restored = await dump(client, target, table);
      expect(restored, table).toHaveLength(count);
      expect(restored, table).toEqual(await dump(client, source, table));
    }
    // DESC clustering order and statics survive as schema, not only as data
    const clustering = await client.execute(
      "SELECT column_name, clustering_order, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = 'all_types'",
      [target],
    );
    const byName = new Map(clustering.rows.map((r) => [r.get("column_name") as string, r]));
    expect(byName.get("ck_time")?.get("clustering_order")).toBe("desc");
    expect(byName.get("s_note")?.get("kind")).toBe("static");
  });

  it("writes byte-identical chunks for unchanged data, so a second snapshot uploads nothing new", async () => {
    const first = await exportSnapshot({ client, keyspace: source, store, snapshotId: "again-1", chunkCount: 4 });
    const second = await exportSnapshot({ client, keyspace: source, store, snapshotId: "again-2", chunkCount: 4 });
    expect(second.tables.map((t) => t.chunks)).toEqual(first.tables.map((t) => t.chunks));
    await client.execute(`INSERT INTO ${source}.blob_keys (k, v) VALUES (0x02, 'changed')`);
    const third = await exportSnapshot({ client, keyspace: source, store, snapshotId: "again-3", chunkCount: 4 });
    const shared = third.tables.flatMap((t) => t.chunks).filter((c) => first.tables.some((t) => t.chunks.some((d) => d.sha256 === c.sha256)));
    expect(shared.length).toBe(third.totals.chunks - 1);
  });
});
