import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace, services, uniqueName } from "@devenv/testing";

const devenv = resolve(import.meta.dirname, "../../bin/devenv");

/** Runs the real CLI; resolves with its exit code and output. */
function run(args: string[]) {
  const result = spawnSync(devenv, args, { encoding: "utf8", env: { ...process.env, DEVENV_DEBUG: "" } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function rowsOf(client: cassandra.Client, query: string): Promise<string[]> {
  const rows: string[] = [];
  const stream = client.stream(query, [], { prepare: true, fetchSize: 5000 }) as unknown as AsyncIterable<cassandra.types.Row>;
  for await (const row of stream) {
    rows.push(JSON.stringify(row.values().map(String)));
  }
  return rows.sort();
}

/** Starts a restore of the 16-chunk snapshot and SIGKILLs it once a few chunks are journalled but most are not. */
async function killMidway(args: string[]): Promise<void> {
  const child = spawn(devenv, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  await new Promise<void>((resolveKill, reject) => {
    child.stderr.on("data", (data: Buffer) => {
      stderr += data.toString();
      const done = [...stderr.matchAll(/^load .* (\d+)\/16 chunks/gm)].map((m) => Number(m[1]));
      if (done.some((n) => n >= 2 && n <= 12)) child.kill("SIGKILL");
    });
    child.on("exit", (_code, signal) => (signal === "SIGKILL" ? resolveKill() : reject(new Error(`restore ended before it was killed:\n${stderr}`))));
  });
}

describe("devenv snapshot restore", () => {
  let client: cassandra.Client;
  let dir: string;
  let source: string;
  const contactPoints = () => services().cassandra.contactPoint;

  beforeAll(async () => {
    client = await cassandraClient();
    dir = mkdtempSync(join(tmpdir(), "devenv-resume-"));
    source = await createKeyspace(client, "src");
    // the counter table sorts first, so the kill lands while counters are being applied
    await client.execute(`CREATE TABLE ${source}.a_tallies (k int PRIMARY KEY, n counter, m counter)`);
    await client.execute(`CREATE TABLE ${source}.events (p int, c int, payload text, PRIMARY KEY (p, c))`);
    const writes: Promise<unknown>[] = [];
    const flush = async () => {
      await Promise.all(writes);
      writes.length = 0;
    };
    for (let k = 0; k < 12_000; k++) {
      writes.push(client.execute(`UPDATE ${source}.a_tallies SET n = n + ?, m = m + ? WHERE k = ?`, [String(k * 3 + 1), String(-k), k], { prepare: true }));
      if (writes.length >= 256) await flush();
    }
    for (let i = 0; i < 30_000; i++) {
      writes.push(client.execute(`INSERT INTO ${source}.events (p, c, payload) VALUES (?, ?, ?)`, [i % 3000, i, `payload ${i} ${"x".repeat(60)}`], { prepare: true }));
      if (writes.length >= 256) await flush();
    }
    await flush();
    const exported = run(["snapshot", "export", "--contact-points", contactPoints(), "--keyspace", source, "--to", join(dir, "store"), "--id", "nightly", "--chunks", "8"]);
    expect(exported.stderr).not.toMatch(/devenv:/);
    expect(exported.code).toBe(0);
  });

  afterAll(async () => {
    await client?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A restore into a new keyspace, killed midway with its journal left behind. */
  async function killedRestore(workDirName: string) {
    const target = uniqueName("dst");
    const workDir = join(dir, workDirName);
    const args = ["snapshot", "restore", join(dir, "store", "snapshots", "nightly"), "--contact-points", contactPoints(), "--keyspace", target, "--work-dir", workDir, "--concurrency", "2"];
    await killMidway(args);
    expect(existsSync(join(workDir, "journals", `${target}.ndjson`))).toBe(true);
    return { target, workDir, args };
  }

  async function expectSameAsSource(target: string) {
    expect(await rowsOf(client, `SELECT k, n, m FROM ${target}.a_tallies`)).toEqual(await rowsOf(client, `SELECT k, n, m FROM ${source}.a_tallies`));
    expect(await rowsOf(client, `SELECT p, c, payload FROM ${target}.events`)).toEqual(await rowsOf(client, `SELECT p, c, payload FROM ${source}.events`));
  }

  it("resumes after SIGKILL midway and ends with identical data, counters exact", async () => {
    const { target, workDir, args } = await killedRestore("work");

    const resumed = run(args);
    expect(resumed.stderr).not.toMatch(/devenv:/);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain("resumed");
    expect(readdirSync(join(workDir, "journals"))).toEqual([]);
    await expectSameAsSource(target);
  });

  it("starts over when the target keyspace was dropped after the kill (its journalled chunks went with it)", async () => {
    const { target, args } = await killedRestore("work-dropped");
    await client.execute(`DROP KEYSPACE ${target}`);

    const again = run(args);
    expect(again.stderr).not.toMatch(/devenv:/);
    expect(again.code).toBe(0);
    expect(again.stdout).not.toContain("resumed");
    await expectSameAsSource(target);
  });

  it("imports nothing more once killed while the SSTable writer runs", async () => {
    const target = uniqueName("dst");
    const args = ["snapshot", "restore", join(dir, "store", "snapshots", "nightly"), "--contact-points", contactPoints(), "--keyspace", target, "--work-dir", join(dir, "work-orphan")];
    // the writer's trace (forwarded with DEVENV_DEBUG) says when it has the events table's group: every row is then in its pipe
    const child = spawn(devenv, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DEVENV_DEBUG: "1", DEVENV_SSTABLE_JAVA_OPTS: "-Ddevenv.trace=true" } });
    let stderr = "";
    let writer: number | undefined;
    await new Promise<void>((resolveKill, reject) => {
      child.stderr.on("data", (data: Buffer) => {
        stderr += data.toString();
        // the progress bar shares stderr and may land inside the trace line: match its tail
        if (writer === undefined && /[\d.]+ s: group events/.test(stderr)) {
          writer = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(" ")[0]);
          child.kill("SIGKILL");
        }
      });
      child.on("exit", (_code, signal) => (signal === "SIGKILL" ? resolveKill() : reject(new Error(`restore ended before it was killed:\n${stderr}`))));
    });
    expect(writer).toBeGreaterThan(0);
    // the writer finishes what it was given, sees that its caller is gone, and exits without importing
    const deadline = Date.now() + 60_000;
    while (existsSync(`/proc/${writer}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(`/proc/${writer}`)).toBe(false);
    // SSTables are written while chunks download, so the kill may come before the target's schema
    // exists (then nothing can have been imported) or after (then the table must be empty)
    const created = await client.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = 'events'", [target]);
    if (created.rowLength > 0) expect((await client.execute(`SELECT count(*) FROM ${target}.events`)).first()?.get(0)?.toString()).toBe("0");
  });

  it("fails with one clear line when the snapshot does not exist", () => {
    const result = run(["snapshot", "restore", join(dir, "store"), "--id", "nope", "--contact-points", contactPoints()]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/^devenv: snapshot "nope" not found/);
  });

  it("verify, ls and show describe the snapshot", () => {
    const verified = run(["snapshot", "verify", join(dir, "store", "snapshots", "nightly")]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/snapshot nightly is intact: 16 chunks, 42,000 rows/);
    const listed = JSON.parse(run(["snapshot", "ls", join(dir, "store"), "--json"]).stdout) as { id: string; rows: number }[];
    expect(listed).toEqual([expect.objectContaining({ id: "nightly", rows: 42_000 })]);
    const shown = run(["snapshot", "show", join(dir, "store"), "--id", "nightly"]);
    expect(shown.stdout).toMatch(/events\s+30000 rows\s+8 chunks/);
  });
});
