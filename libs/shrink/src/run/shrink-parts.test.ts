import type cassandra from "cassandra-driver";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDataset } from "@devenv/fixtures";
import { LocalDirStore, readManifest, type BlobStore } from "@devenv/snapshot";
import { cassandraClient, selectAll, uniqueName } from "@devenv/testing";
import { loadRules } from "../rules/load-rules.ts";
import type { ShrinkRules } from "../rules/rules-schema.ts";
import { discardShrinkWork, finishShrinkParts, planShrinkParts, runShrinkPart, shrinkWorkKeys } from "./shrink-parts.ts";
import { shrinkSnapshot } from "./shrink-snapshot.ts";

// A shrink split into parts (as job runners on several hosts run it) must give
// exactly the snapshot one process gives, and leave nothing readable behind.
const rulesFile = resolve(import.meta.dirname, "../../../../examples/leads-rules.yaml");
const secret = Buffer.from("shrink-parts-secret-0123456789abcdef");
const asOf = new Date("2026-11-21T00:00:00Z");
const createdAt = new Date("2026-11-21T03:00:00Z");

let client: cassandra.Client;
let rules: ShrinkRules;
let work: string;
let source: string;
let someEmail: string;

beforeAll(async () => {
  client = await cassandraClient();
  rules = await loadRules(rulesFile);
  work = await mkdtemp(join(tmpdir(), "devenv-shrink-parts-test-"));
  source = uniqueName("shrink_parts");
  await generateDataset(client, { keyspace: source, orgs: 8, leadsPerOrg: 15, days: 10, eventsPerDay: 10, asOf: "2026-11-20", seed: "parts", concurrency: 64 });
  const users = await selectAll(client, source, "users");
  someEmail = String(users[0]!.get("email"));
});

afterAll(async () => {
  await client?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await client?.shutdown();
  if (work) await rm(work, { recursive: true, force: true });
});

const common = () => ({ client, keyspace: source, rules, secret, asOf, chunkCount: 4, now: () => createdAt });

async function keysUnder(store: BlobStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys;
}

describe("a shrink in parts", () => {
  it("gives byte-identical chunks and the same manifest as one process, with the work area sealed and then removed", async () => {
    const single = new LocalDirStore(join(work, "single"));
    const split = new LocalDirStore(join(work, "split"));
    const one = await shrinkSnapshot({ ...common(), store: single, snapshotId: "same-id" });

    const planned = await planShrinkParts({ ...common(), store: split, snapshotId: "same-id", parts: 3 });
    expect(planned).toMatchObject({ snapshotId: "same-id", parts: 3 });
    // the parts run at once, each with its own connection, as on separate runners
    const results = await Promise.all(
      [0, 1, 2].map(async (part) => {
        const own = await cassandraClient();
        try {
          return await runShrinkPart({ client: own, store: split, secret, snapshotId: "same-id", part, stagingDir: work });
        } finally {
          await own.shutdown();
        }
      }),
    );
    expect(results.reduce((n, r) => n + r.rowsRead, 0)).toBe(one.tables.reduce((n, t) => n + t.rowsRead, 0));

    // sealed: no staged chunk or part state in the store shows the source's PII, nor is it gzip
    const workKeys = await keysUnder(split, shrinkWorkKeys.prefix("same-id"));
    expect(workKeys.length).toBeGreaterThan(4);
    for (const key of workKeys) {
      const raw = await readFile(join(work, "split", key));
      expect(raw.subarray(0, 4).toString()).toBe("DVS1");
      expect(raw.includes(Buffer.from(someEmail))).toBe(false);
    }

    const many = await finishShrinkParts({ store: split, secret, snapshotId: "same-id", stagingDir: work });
    expect(many.manifest).toEqual(one.manifest);
    expect(await readManifest(split, "same-id")).toEqual(await readManifest(single, "same-id"));
    expect(many.tables).toEqual(one.tables);
    expect(many.knownValues).toBe(one.knownValues);
    expect(many.audit.findings).toEqual([]);
    expect(await keysUnder(split, "work/")).toEqual([]);
    expect((await readdir(work)).filter((f) => f.startsWith("devenv-shrink"))).toEqual([]);
  });

  it("refuses a part run with another secret, a part that does not exist, and a finish before every part is done", async () => {
    const store = new LocalDirStore(join(work, "refusals"));
    await planShrinkParts({ ...common(), store, snapshotId: "refused", parts: 2 });
    const other = Buffer.from("another-secret-0123456789abcdef!!");
    await expect(runShrinkPart({ client, store, secret: other, snapshotId: "refused", part: 0 })).rejects.toThrow(/cannot open the shrink work object .*plan: authentication failed/);
    await expect(runShrinkPart({ client, store, secret, snapshotId: "refused", part: 2 })).rejects.toThrow(/part 2 does not exist: .* parts 0 to 1/);
    await runShrinkPart({ client, store, secret, snapshotId: "refused", part: 0 });
    await expect(finishShrinkParts({ store, secret, snapshotId: "refused" })).rejects.toThrow(/part 1 of the shrink of refused has not left its results/);
    expect(await keysUnder(store, "snapshots/")).toEqual([]);
    await discardShrinkWork(store, "refused");
    expect(await keysUnder(store, "work/")).toEqual([]);
  });
});
