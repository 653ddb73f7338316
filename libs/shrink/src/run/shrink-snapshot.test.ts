import type cassandra from "cassandra-driver";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDataset } from "@devenv/fixtures";
import { LocalDirStore, readKeyspaceSchema, restoreSnapshot } from "@devenv/snapshot";
import { cassandraClient, selectAll, uniqueName } from "@devenv/testing";
import { ShrinkError } from "../errors.ts";
import { planShrink } from "../plan/shrink-plan.ts";
import { loadRules } from "../rules/load-rules.ts";
import type { ShrinkRules } from "../rules/rules-schema.ts";
import { isReservedEmail, isReservedPhone } from "../scrub/pseudonyms.ts";
import { shrinkSnapshot, type ShrinkOptions, type ShrinkResult } from "./shrink-snapshot.ts";

// Generated production-like data through examples/leads-rules.yaml, restored
// into real Cassandra and compared with its source row by row.
const rulesFile = resolve(import.meta.dirname, "../../../../examples/leads-rules.yaml");
const secret = Buffer.from("shrink-test-secret-0123456789abcdef");
const asOfDay = "2026-11-20";
/** The end of asOfDay: the generator writes events through that day. */
const asOf = new Date("2026-11-21T00:00:00Z");
const keepDays = 7;
const dayMs = 86_400_000;

let client: cassandra.Client;
let rules: ShrinkRules;
let work: string;
let source: string;
let restored: string;
let result: ShrinkResult;
let orgKind: Map<string, string>;
const keyspaces: string[] = [];

type Row = cassandra.types.Row;

beforeAll(async () => {
  client = await cassandraClient();
  rules = await loadRules(rulesFile);
  work = await mkdtemp(join(tmpdir(), "devenv-shrink-test-"));
  source = uniqueName("shrink_src");
  restored = uniqueName("shrink_dev");
  keyspaces.push(source, restored);
  await generateDataset(client, { keyspace: source, orgs: 10, leadsPerOrg: 20, days: 10, eventsPerDay: 12, asOf: asOfDay, seed: "shrink", concurrency: 64 });
  orgKind = new Map((await selectAll(client, source, "orgs")).map((r) => [String(r.get("org_id")), String(r.get("kind"))]));
  result = await shrink({ store: new LocalDirStore(join(work, "store")) });
  await restoreSnapshot({ store: new LocalDirStore(join(work, "store")), snapshotId: result.manifest.id, client, keyspace: restored, workDir: join(work, "restore") });
});

afterAll(async () => {
  for (const keyspace of keyspaces) await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client?.shutdown();
  if (work) await rm(work, { recursive: true, force: true });
});

function shrink(options: Partial<ShrinkOptions> & Pick<ShrinkOptions, "store">): Promise<ShrinkResult> {
  return shrinkSnapshot({ client, keyspace: source, rules, secret, asOf, chunkCount: 4, ...options });
}

const isKept = (org: unknown) => orgKind.get(String(org)) !== "customer";
const key = (row: Row, columns: readonly string[]) => columns.map((c) => String(row.get(c))).join("|");
const byKey = (rows: Row[], columns: readonly string[]) => new Map(rows.map((r) => [key(r, columns), r]));
const rows = (keyspace: string, table: string) => selectAll(client, keyspace, table);

/** Every text a row holds (JSON, maps and UDTs included), for leak searches. */
function textOf(row: Row): string {
  return JSON.stringify(Object.fromEntries(row.keys().map((k) => [k, plain(row.get(k))])));
}
function plain(value: unknown): unknown {
  if (value instanceof Map) return [...value];
  if (value instanceof Set) return [...value];
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) !== Object.prototype) return String(value);
  return value;
}

type Json = { [key: string]: unknown };
const get = (v: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((at, k) => (at !== null && typeof at === "object" ? (at as Json)[k as string] : undefined), v);
function primaryPhone(payload: string): unknown {
  const p: unknown = JSON.parse(payload);
  return get(p, "phone") ?? get(p, "contact", "Phone") ?? get(p, "contacts", 0, "phone_number");
}

describe("examples/leads-rules.yaml", () => {
  it("covers the generated schema, table by table and column by column", async () => {
    const plan = planShrink(rules, await readKeyspaceSchema(client, source));
    const actions = Object.fromEntries(plan.tables.map((t) => [t.name, t.action === "drop" ? "drop" : t.org.kind]));
    expect(actions).toEqual({
      audit_log: "drop",
      countries: "none",
      events: "column",
      integrations: "column",
      lead_by_phone: "column",
      lead_counters: "column",
      lead_notes: "via",
      leads: "column",
      orgs: "column",
      users: "column",
    });
  });
});

describe("shrinkSnapshot on generated data", () => {
  it("keeps no row of a customer organisation, in any table", async () => {
    expect([...orgKind.values()]).toContain("customer");
    for (const table of ["orgs", "users", "leads", "lead_by_phone", "events", "integrations", "lead_counters"]) {
      const orgs = new Set((await rows(restored, table)).map((r) => String(r.get("org_id"))));
      expect([...orgs].filter((org) => !isKept(org)), table).toEqual([]);
    }
    // lead_notes reach their org through the lead
    const keptLeads = new Set((await rows(restored, "leads")).map((r) => String(r.get("lead_id"))));
    const notes = await rows(restored, "lead_notes");
    expect(notes.length).toBeGreaterThan(0);
    for (const note of notes) expect(keptLeads.has(String(note.get("lead_id")))).toBe(true);
    // and no customer's email, name or phone is written anywhere
    const customerUsers = (await rows(source, "users")).filter((r) => !isKept(r.get("org_id")));
    const everything = (await Promise.all(["orgs", "users", "leads", "lead_notes", "lead_by_phone", "events", "integrations"].map((t) => rows(restored, t))))
      .flat()
      .map(textOf)
      .join("\n")
      .toLowerCase();
    for (const user of customerUsers) {
      expect(everything).not.toContain(String(user.get("email")).toLowerCase());
      expect(everything).not.toContain(String(user.get("name")).toLowerCase());
    }
    expect(await rows(restored, "audit_log").catch(() => "no such table")).toBe("no such table");
  });

  it("keeps sandbox and internal organisations complete, non-PII fields byte-equal", async () => {
    const keptKinds = new Set([...orgKind.values()].filter((k) => k !== "customer"));
    expect(keptKinds).toEqual(new Set(["sandbox", "internal"]));
    const compare = async (table: string, primaryKey: string[], unchanged: string[], filter: (r: Row) => boolean = () => true) => {
      const before = (await rows(source, table)).filter((r) => isKept(r.get("org_id")) && filter(r));
      const after = byKey(await rows(restored, table), primaryKey);
      expect(after.size, table).toBe(before.length);
      for (const row of before) {
        const copy = after.get(key(row, primaryKey));
        expect(copy, `${table} ${key(row, primaryKey)}`).toBeDefined();
        for (const column of unchanged) expect(plain(copy!.get(column)), `${table}.${column}`).toEqual(plain(row.get(column)));
      }
    };
    await compare("orgs", ["org_id"], ["kind", "plan", "created_at"]);
    await compare("users", ["org_id", "user_id"], ["role"]);
    await compare("leads", ["org_id", "lead_id"], ["created_at", "status", "owner_id", "score"]);
    await compare("integrations", ["org_id", "vendor"], ["enabled"]);
    await compare("lead_counters", ["org_id", "day"], ["leads_created", "events"]);
    await compare("events", ["org_id", "day", "ts", "event_id"], ["lead_id", "type"], (r) => (r.get("ts") as Date).getTime() >= asOf.getTime() - keepDays * dayMs);
    // UDT fields the rules keep
    const sourceLeads = byKey(await rows(source, "leads"), ["org_id", "lead_id"]);
    for (const lead of await rows(restored, "leads")) {
      const original = sourceLeads.get(key(lead, ["org_id", "lead_id"]))!;
      const [a, b] = [lead.get("address") as Json | null, original.get("address") as Json | null];
      expect(a === null, "address presence").toBe(b === null);
      if (a && b) expect([a.city, a.zip, a.country]).toEqual([b.city, b.zip, b.country]);
    }
    // reference data without an org is kept whole
    expect((await rows(restored, "countries")).map(textOf).sort()).toEqual((await rows(source, "countries")).map(textOf).sort());
  });

  it("drops events older than keepDays before --as-of, and says how many", async () => {
    const cutoff = asOf.getTime() - keepDays * dayMs;
    const sourceEvents = (await rows(source, "events")).filter((r) => isKept(r.get("org_id")));
    const old = sourceEvents.filter((r) => (r.get("ts") as Date).getTime() < cutoff).length;
    expect(old).toBeGreaterThan(0);
    const kept = await rows(restored, "events");
    expect(Math.min(...kept.map((r) => (r.get("ts") as Date).getTime()))).toBeGreaterThanOrEqual(cutoff);
    // the last day of events (asOfDay itself) is kept
    expect(kept.some((r) => String(r.get("day")) === asOfDay)).toBe(true);
    const summary = result.tables.find((t) => t.table === "events")!;
    expect(summary.droppedByTime).toBe(old);
    expect(summary.rowsKept).toBe(kept.length);
  });

  it("gives one email one pseudonym everywhere: columns, JSON, free text", async () => {
    const sourceUsers = byKey(await rows(source, "users"), ["org_id", "user_id"]);
    const pseudonym = new Map<string, string>();
    for (const user of await rows(restored, "users")) {
      const original = String(sourceUsers.get(key(user, ["org_id", "user_id"]))!.get("email"));
      const fake = String(user.get("email"));
      expect(isReservedEmail(fake), fake).toBe(true);
      expect(fake).not.toBe(original);
      pseudonym.set(original, fake);
    }
    // authors of notes are users: their column holds the same pseudonym as users.email
    const sourceNotes = byKey(await rows(source, "lead_notes"), ["lead_id", "note_id"]);
    let authors = 0;
    for (const note of await rows(restored, "lead_notes")) {
      const original = String(sourceNotes.get(key(note, ["lead_id", "note_id"]))!.get("author_email"));
      if (!pseudonym.has(original)) continue;
      expect(note.get("author_email")).toBe(pseudonym.get(original));
      authors++;
    }
    expect(authors).toBeGreaterThan(0);
    // a lead's email in its JSON payload is the same pseudonym as in the prose of its notes
    const sourceLeads = byKey(await rows(source, "leads"), ["org_id", "lead_id"]);
    let mentions = 0;
    for (const lead of await rows(restored, "leads")) {
      const before = sourceLeads.get(key(lead, ["org_id", "lead_id"]))!;
      const email = findEmail(String(before.get("payload")));
      const fake = findEmail(String(lead.get("payload")));
      if (email === undefined || fake === undefined || !String(before.get("notes")).includes(email)) continue;
      expect(isReservedEmail(fake)).toBe(true);
      expect(String(lead.get("notes"))).toContain(fake);
      expect(String(lead.get("notes"))).not.toContain(email);
      mentions++;
    }
    expect(mentions).toBeGreaterThan(0);
  });

  it("moves the phone lookup's partitions so each scrubbed phone still finds its lead", async () => {
    const leads = byKey(await rows(restored, "leads"), ["org_id", "lead_id"]);
    const lookups = await rows(restored, "lead_by_phone");
    const sourceLookups = (await rows(source, "lead_by_phone")).filter((r) => isKept(r.get("org_id")));
    expect(lookups.length).toBe(sourceLookups.length);
    expect(lookups.length).toBeGreaterThan(0);
    for (const lookup of lookups) {
      const phone = String(lookup.get("phone"));
      expect(isReservedPhone(phone), phone).toBe(true);
      const lead = leads.get(key(lookup, ["org_id", "lead_id"]));
      expect(lead, phone).toBeDefined();
      expect(primaryPhone(String(lead!.get("payload"))), String(lead!.get("payload"))).toBe(phone);
      // and Cassandra finds it by its new partition key
      const found = await client.execute(`SELECT lead_id FROM ${restored}.lead_by_phone WHERE phone = ?`, [phone], { prepare: true });
      expect(found.rows.map((r) => String(r.get("lead_id")))).toContain(String(lookup.get("lead_id")));
    }
  });

  it("writes byte-identical chunks for the same data, rules and secret", async () => {
    const again = await shrink({ store: new LocalDirStore(join(work, "again")) });
    const chunks = (r: ShrinkResult) => r.manifest.tables.map((t) => [t.name, t.chunks.map((c) => c.sha256)]);
    expect(chunks(again)).toEqual(chunks(result));
  });

  it("keeps exactly one organisation with --org, a customer's included, scrubbed", async () => {
    const customer = [...orgKind].find(([, kind]) => kind === "customer")![0];
    const only = await shrink({ store: new LocalDirStore(join(work, "one-org")), org: customer });
    expect(only.keptOrgs).toBe(1);
    const target = uniqueName("shrink_org");
    keyspaces.push(target);
    await restoreSnapshot({ store: new LocalDirStore(join(work, "one-org")), snapshotId: only.manifest.id, client, keyspace: target, workDir: join(work, "restore") });
    const orgs = new Set((await rows(target, "leads")).map((r) => String(r.get("org_id"))));
    expect(orgs).toEqual(new Set([customer]));
    const users = await rows(target, "users");
    expect(users.length).toBeGreaterThan(0);
    for (const user of users) expect(isReservedEmail(String(user.get("email")))).toBe(true);
    await expect(shrink({ store: new LocalDirStore(join(work, "none")), org: "org-nope" })).rejects.toMatchObject({ code: "invalid-input" });
  });

  it("fails before writing anything when the rules miss a table or a column", async () => {
    const { integrations: _omitted, ...tables } = rules.tables;
    const users = rules.tables.users;
    if (users === undefined || users === "drop") throw new Error("the example rules must keep users");
    const { phone: _phone, ...userColumns } = users.columns;
    const incomplete: ShrinkRules = { ...rules, tables: { ...tables, users: { ...users, columns: userColumns } } };
    const storeDir = join(work, "incomplete");
    const error = await shrink({ store: new LocalDirStore(storeDir), rules: incomplete }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShrinkError);
    expect((error as ShrinkError).code).toBe("rules-incomplete");
    expect((error as ShrinkError).message).toMatch(/integrations/);
    expect((error as ShrinkError).message).toMatch(/users\.columns.*: phone/);
    expect(await readdir(storeDir).catch(() => [])).toEqual([]);
  });
});

/** The first email of a JSON payload, wherever it sits. */
function findEmail(payload: string): string | undefined {
  return /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/.exec(payload)?.[0];
}

describe("the audit at the end of a shrink", () => {
  it("catches PII planted in each place it can hide, and publishes nothing", async () => {
    const planted = uniqueName("shrink_leak");
    keyspaces.push(planted);
    await generateDataset(client, { keyspace: planted, orgs: 6, leadsPerOrg: 6, days: 2, eventsPerDay: 4, asOf: asOfDay, seed: "leak", concurrency: 64 });
    const kinds = new Map((await selectAll(client, planted, "orgs")).map((r) => [String(r.get("org_id")), String(r.get("kind"))]));
    const sandbox = [...kinds].find(([, k]) => k !== "customer")![0];
    const customer = [...kinds].find(([, k]) => k === "customer")![0];
    const victim = (await selectAll(client, planted, "users")).find((u) => String(u.get("org_id")) === customer)!;
    const [email, name, phone] = ["email", "name", "phone"].map((c) => String(victim.get(c)));
    const lead = (await selectAll(client, planted, "leads")).find((l) => String(l.get("org_id")) === sandbox)!;
    const leadId = lead.get("lead_id") as cassandra.types.Uuid;
    const exec = (cql: string, params: unknown[]) => client.execute(cql, params, { prepare: true });
    // a plain kept column, a kept UDT field, a partition key, a kept column of the biggest table, a card number
    await exec(`UPDATE ${planted}.leads SET status = ? WHERE org_id = ? AND lead_id = ?`, [`call back ${email}`, sandbox, leadId]);
    await exec(`UPDATE ${planted}.leads SET address = ? WHERE org_id = ? AND lead_id = ?`, [{ street: "1 Main St", city: name, zip: "1000", country: "BE" }, sandbox, leadId]);
    await exec(`INSERT INTO ${planted}.countries (code, name) VALUES (?, ?)`, [phone, "Planted"]);
    await exec(`INSERT INTO ${planted}.events (org_id, day, ts, event_id, lead_id, type, payload) VALUES (?, ?, ?, now(), ?, ?, '{}')`, [
      sandbox,
      asOfDay,
      new Date(`${asOfDay}T12:00:00Z`),
      leadId,
      `forwarded to ${name}`,
    ]);
    await exec(`UPDATE ${planted}.orgs SET plan = ? WHERE org_id = ?`, ["card 4539 1488 0343 6467", sandbox]);

    const storeDir = join(work, "leaky");
    const error = await shrinkSnapshot({ client, keyspace: planted, rules, secret, asOf, store: new LocalDirStore(storeDir) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShrinkError);
    expect((error as ShrinkError).code).toBe("leak-found");
    const where = new Set((error as ShrinkError).findings.map((f) => `${f.table}.${f.column}:${f.kind}`));
    // the patterns find emails, phones and cards; the source filter finds a dropped customer's name
    expect([...where].sort()).toEqual(
      ["countries.code:phone", "countries.code:source-value", "events.type:source-value", "leads.address:source-value", "leads.status:email", "orgs.plan:card"],
    );
    // the report names the row but never shows the value itself
    expect((error as ShrinkError).message).not.toContain(email);
    expect(await readdir(storeDir).catch(() => [])).toEqual([]);
  });
});
