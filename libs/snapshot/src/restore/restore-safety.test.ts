import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace, uniqueName } from "@devenv/testing";
import { connectCassandra } from "../cassandra.ts";
import { SnapshotError } from "../errors.ts";
import { exportSnapshot } from "../export/export-snapshot.ts";
import { openStore } from "../store/open-store.ts";
import { restoreSnapshot } from "./restore-snapshot.ts";

/** Every bad input must fail before the existing target keyspace is touched. */
describe("restore refuses bad input and leaves the target keyspace untouched", () => {
  let client: cassandra.Client;
  let dir: string;
  let source: string;
  let target: string;
  const storeDir = () => join(dir, "store");

  beforeAll(async () => {
    client = await cassandraClient();
    dir = mkdtempSync(join(tmpdir(), "devenv-safety-"));
    source = await createKeyspace(client, "src");
    await client.execute(`CREATE TABLE ${source}.items (id int PRIMARY KEY, name text)`);
    for (let i = 0; i < 200; i++) await client.execute(`INSERT INTO ${source}.items (id, name) VALUES (?, ?)`, [i, `item ${i}`], { prepare: true });
    await exportSnapshot({ client, keyspace: source, store: openStore(storeDir()), snapshotId: "good", chunkCount: 4 });
    // the developer's current database, which a failed restore must not damage
    target = await createKeyspace(client, "current");
    await client.execute(`CREATE TABLE ${target}.precious (id int PRIMARY KEY, note text)`);
    await client.execute(`INSERT INTO ${target}.precious (id, note) VALUES (1, 'still here')`);
  });

  afterAll(async () => {
    await client?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function expectTargetIntact() {
    const rows = await client.execute(`SELECT note FROM ${target}.precious WHERE id = 1`);
    expect(rows.first()?.get("note")).toBe("still here");
  }

  async function restoreFails(snapshotId: string, store = openStore(storeDir()), code?: SnapshotError["code"]) {
    const attempt = restoreSnapshot({ store, snapshotId, client, keyspace: target, workDir: join(dir, uniqueName("work")) });
    await expect(attempt).rejects.toBeInstanceOf(SnapshotError);
    if (code) await expect(attempt).rejects.toMatchObject({ code });
    await expectTargetIntact();
    return (await attempt.catch((e: unknown) => e)) as SnapshotError;
  }

  function copySnapshot(id: string, edit: (manifest: Record<string, unknown>) => void): void {
    const manifest = JSON.parse(readFileSync(join(storeDir(), "snapshots", "good", "manifest.json"), "utf8")) as Record<string, unknown>;
    manifest.id = id;
    edit(manifest);
    const path = join(storeDir(), "snapshots", id);
    rmSync(path, { recursive: true, force: true });
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, "manifest.json"), JSON.stringify(manifest));
  }

  it("a missing manifest", async () => {
    const error = await restoreFails("no-such-snapshot", undefined, "not-found");
    expect(error.message).toContain('snapshot "no-such-snapshot" not found');
  });

  it("an unknown format version", async () => {
    copySnapshot("future", (m) => (m.formatVersion = 99));
    const error = await restoreFails("future", undefined, "unsupported-format");
    expect(error.message).toContain("format version 99");
  });

  it("a flipped byte in one chunk", async () => {
    const chunkDir = join(dir, "flipped");
    await exportSnapshot({ client, keyspace: source, store: openStore(chunkDir), snapshotId: "flip", chunkCount: 4 });
    const victim = join(chunkDir, "chunks", readdirSync(join(chunkDir, "chunks"))[1]!);
    const bytes = readFileSync(victim);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(victim, bytes);
    const error = await restoreFails("flip", openStore(chunkDir), "corrupt");
    expect(error.message).toMatch(/chunk [0-9a-f]{64} .* is corrupt/);
  });

  it("a truncated chunk", async () => {
    const chunkDir = join(dir, "truncated");
    await exportSnapshot({ client, keyspace: source, store: openStore(chunkDir), snapshotId: "cut", chunkCount: 4 });
    const victim = join(chunkDir, "chunks", readdirSync(join(chunkDir, "chunks"))[0]!);
    writeFileSync(victim, readFileSync(victim).subarray(0, 20));
    await restoreFails("cut", openStore(chunkDir), "corrupt");
  });

  it("a chunk holding other rows than the manifest says", async () => {
    // found while the rows are written, which may be after the target was replaced: another keyspace
    copySnapshot("miscounted", (m) => {
      const chunk = (m.tables as { chunks: { rows: number }[] }[])[0]!.chunks[0]!;
      chunk.rows += 1;
    });
    const attempt = restoreSnapshot({ store: openStore(storeDir()), snapshotId: "miscounted", client, keyspace: uniqueName("miscounted"), workDir: join(dir, uniqueName("work")) });
    await expect(attempt).rejects.toMatchObject({ code: "corrupt", message: expect.stringMatching(/holds \d+ rows, the manifest says \d+/) });
  });

  it("a schema this Cassandra rejects", async () => {
    copySnapshot("bad-schema", (m) => {
      const schema = m.schema as { statements: string[] };
      schema.statements = [...schema.statements, "CREATE TABLE broken (id nosuchtype PRIMARY KEY)"];
    });
    const error = await restoreFails("bad-schema", undefined, "schema-conflict");
    expect(error.message).toContain("target keyspace was not touched");
  });

  it("an unreachable Cassandra", async () => {
    const attempt = connectCassandra({ contactPoints: ["127.0.0.1:1"] });
    await expect(attempt).rejects.toMatchObject({ code: "unavailable" });
    await expectTargetIntact();
  });

  it("restores the good snapshot over the target once the input is sound", async () => {
    const result = await restoreSnapshot({ store: openStore(storeDir()), snapshotId: "good", client, keyspace: target, workDir: join(dir, "ok") });
    expect(result.rows).toBe(200);
    const count = await client.execute(`SELECT count(*) FROM ${target}.items`);
    expect(Number(count.first()?.get(0))).toBe(200);
  });
});
