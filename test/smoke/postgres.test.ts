import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { services } from "../harness/context.ts";
import { createDatabase, dropDatabase } from "../harness/postgres.ts";

describe("PostgreSQL", () => {
  let serverUrl: string;
  let databaseUrl: string;

  beforeAll(async () => {
    serverUrl = services().postgres.url;
    databaseUrl = await createDatabase(serverUrl, "smoke_postgres");
  });

  afterAll(async () => {
    if (databaseUrl) await dropDatabase(serverUrl, databaseUrl);
  });

  it("creates, fills and reads a table in a database of its own", async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      const { rows: where } = await client.query<{ db: string }>("select current_database() as db");
      expect(databaseUrl.endsWith(`/${where[0]?.db}`)).toBe(true);

      await client.query("create table snapshots (id bigint primary key, name text not null, bytes bigint not null)");
      for (const [id, name, bytes] of [
        [1, "orders-2026-11-01", 1_500_000_000],
        [2, "orders-2026-11-02", 1_600_000_000],
      ] as const) {
        await client.query("insert into snapshots (id, name, bytes) values ($1, $2, $3)", [id, name, bytes]);
      }
      const { rows } = await client.query<{ name: string; bytes: string }>(
        "select name, bytes from snapshots where bytes > $1 order by id",
        [1_550_000_000],
      );
      // pg returns bigint as a string: it may not fit a JS number
      expect(rows).toEqual([{ name: "orders-2026-11-02", bytes: "1600000000" }]);
    } finally {
      await client.end();
    }
  });

  it("drops the database again", async () => {
    const name = new URL(databaseUrl).pathname.slice(1);
    await dropDatabase(serverUrl, databaseUrl);
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    try {
      const { rowCount } = await admin.query("select 1 from pg_database where datname = $1", [name]);
      expect(rowCount).toBe(0);
    } finally {
      await admin.end();
    }
  });
});
