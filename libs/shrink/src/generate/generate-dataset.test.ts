import type cassandra from "cassandra-driver";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readKeyspaceSchema } from "@devenv/snapshot";
import { cassandraClient, selectAll, uniqueName } from "@devenv/testing";
import { ShrinkError } from "../errors.ts";
import { planShrink } from "../plan/shrink-plan.ts";
import { loadRules } from "../rules/load-rules.ts";
import { generateDataset, type GenerateOptions, type GenerateResult } from "./generate-dataset.ts";
import { leadsTables } from "./leads-schema.ts";

const args = { orgs: 12, leadsPerOrg: 15, days: 3, eventsPerDay: 8, asOf: "2025-03-31", concurrency: 64 } satisfies Partial<GenerateOptions>;

let client: cassandra.Client;
let first: GenerateResult;
let second: GenerateResult;
let otherSeed: GenerateResult;
const created: string[] = [];

async function generate(seed: string): Promise<GenerateResult> {
  const keyspace = uniqueName("gen");
  created.push(keyspace);
  return generateDataset(client, { ...args, keyspace, seed });
}

beforeAll(async () => {
  client = await cassandraClient();
  first = await generate("7");
  second = await generate("7");
  otherSeed = await generate("8");
});

afterAll(async () => {
  for (const keyspace of created) await client?.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
  await client?.shutdown();
});

/** Every row of a table as canonical text (driver values to strings, maps to sorted entries), sorted. */
async function dump(keyspace: string, table: string): Promise<string[]> {
  const rows = await rowsOf(keyspace, table);
  return rows.map((row) => JSON.stringify(canonical(Object.fromEntries(row.keys().map((k) => [k, row.get(k) as unknown]))))).sort();
}

function canonical(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map) return [...value].map(([k, v]) => [canonical(k), canonical(v)]).sort();
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === "object") {
    // Uuid, TimeUuid, LocalDate, InetAddress and Long all print their value
    const proto = Object.getPrototypeOf(value) as object | null;
    if (proto !== Object.prototype && proto !== null) return String(value);
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

function rowsOf(keyspace: string, table: string): Promise<cassandra.types.Row[]> {
  return selectAll(client, keyspace, table);
}

type JsonObject = { [key: string]: unknown };
const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const get = (v: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((at, key) => (Array.isArray(at) ? at[key as number] : isObject(at) ? at[key as string] : undefined), v);

/** Where the generator promises to put a lead's own contact details. */
function primaryEmail(p: unknown): unknown {
  return get(p, "email") ?? get(p, "E-Mail") ?? get(p, "contact", "emailAddress") ?? get(p, "contacts", 0, "email");
}
function primaryPhone(p: unknown): unknown {
  return get(p, "phone") ?? get(p, "contact", "Phone") ?? get(p, "contacts", 0, "phone_number");
}
function primaryName(p: unknown): unknown {
  return get(p, "fullName") ?? get(p, "contacts", 0, "name");
}

describe("generateDataset", () => {
  it("writes identical rows for the same seed and arguments, byte for byte", async () => {
    expect(second.tables).toEqual(first.tables);
    for (const table of leadsTables) {
      const a = await dump(first.keyspace, table);
      const b = await dump(second.keyspace, table);
      expect(a.length, table).toBe(first.tables[table]);
      expect(b, table).toEqual(a);
    }
  });

  it("writes different data for a different seed", async () => {
    const a = await dump(first.keyspace, "leads");
    const c = await dump(otherSeed.keyspace, "leads");
    expect(c.filter((row) => a.includes(row))).toEqual([]);
    expect(await dump(otherSeed.keyspace, "countries")).toEqual(await dump(first.keyspace, "countries"));
  });

  it("writes as many rows as the arguments ask for, and reports them", async () => {
    const { orgs, leadsPerOrg, days, eventsPerDay } = args;
    expect(first.tables.orgs).toBe(orgs);
    expect(first.tables.leads).toBe(orgs * leadsPerOrg);
    expect(first.tables.events).toBe(orgs * days * eventsPerDay);
    expect(first.tables.countries).toBe(25);
    expect(first.tables.users).toBeGreaterThanOrEqual(orgs * 4);
    expect(first.tables.users).toBeLessThanOrEqual(orgs * 6);
    expect(first.tables.lead_notes).toBeGreaterThan(first.tables.leads);
    expect(first.totalRows).toBe(Object.values(first.tables).reduce((a, b) => a + b, 0));
    for (const table of leadsTables) {
      const [row] = (await client.execute(`SELECT count(*) AS n FROM ${first.keyspace}.${table}`)).rows;
      expect(Number(row!.get("n")), table).toBe(first.tables[table]);
    }

    const eventDays = new Set((await rowsOf(first.keyspace, "events")).map((r) => String(r.get("day"))));
    expect([...eventDays].sort()).toEqual(["2025-03-29", "2025-03-30", "2025-03-31"]);
    const counters = await rowsOf(first.keyspace, "lead_counters");
    expect(counters.reduce((n, r) => n + Number(r.get("leads_created") ?? 0), 0)).toBe(orgs * leadsPerOrg);
    expect(counters.reduce((n, r) => n + Number(r.get("events") ?? 0), 0)).toBe(orgs * days * eventsPerDay);
  });

  it("has orgs of every kind, most of them customers, and lists them", async () => {
    const orgs = await rowsOf(first.keyspace, "orgs");
    const kinds = orgs.map((r) => String(r.get("kind")));
    expect(new Set(kinds)).toEqual(new Set(["customer", "sandbox", "internal"]));
    expect(kinds.filter((k) => k === "customer").length).toBeGreaterThan(orgs.length / 2);
    expect(first.orgList.map((o) => `${o.orgId}:${o.kind}`).sort()).toEqual(orgs.map((r) => `${String(r.get("org_id"))}:${String(r.get("kind"))}`).sort());
    expect(orgs.every((r) => /^org-\d{6}$/.test(String(r.get("org_id"))))).toBe(true);
  });

  it("puts PII in the lead payloads at the promised depths and spellings, and in notes and custom fields", async () => {
    const leads = await rowsOf(first.keyspace, "leads");
    const payloads = leads.map((r) => JSON.parse(String(r.get("payload"))) as JsonObject);
    const found = (test: (p: JsonObject) => unknown) => payloads.filter((p) => test(p) !== undefined && test(p) !== null).length;
    const spellings: Record<string, (p: JsonObject) => unknown> = {
      email: (p) => get(p, "email"),
      "E-Mail": (p) => get(p, "E-Mail"),
      "contact.emailAddress": (p) => get(p, "contact", "emailAddress"),
      "contact.Phone": (p) => get(p, "contact", "Phone"),
      "contacts[].name": (p) => get(p, "contacts", 0, "name"),
      "contacts[].email": (p) => get(p, "contacts", 0, "email"),
      "contacts[].phone_number": (p) => get(p, "contacts", 0, "phone_number"),
      "billing.contact": (p) => get(p, "billing", "contact"),
      fullName: (p) => get(p, "fullName"),
      "meta.owner.mail": (p) => get(p, "meta", "owner", "mail"),
      message: (p) => get(p, "message"),
    };
    for (const [spelling, at] of Object.entries(spellings)) expect(found(at), spelling).toBeGreaterThan(0);
    // not every lead has every key
    expect(found((p) => get(p, "meta"))).toBeLessThan(payloads.length);

    // non-PII fields of every JSON type sit beside them
    expect(payloads.some((p) => typeof p.pageViews === "number" && typeof p.consent === "boolean" && p.referrer === null)).toBe(true);
    expect(payloads.some((p) => isObject(p.utm) && Array.isArray(p.tags))).toBe(true);

    for (const [i, row] of leads.entries()) {
      const p = payloads[i]!;
      const email = primaryEmail(p);
      expect(email, String(row.get("payload"))).toMatch(/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/);
      expect(primaryName(p)).toEqual(expect.any(String));
      const message = get(p, "message");
      if (typeof message === "string") {
        expect(message).toContain(String(email));
        expect(message).toMatch(/\+?\(?\d[\d ().\-/]{6,}\d/);
      }
      const notes = row.get("notes") as string | null;
      if (notes !== null) {
        expect(notes).toContain(String(primaryName(p)));
        expect(notes).toContain(String(email));
        const phone = primaryPhone(p);
        if (typeof phone === "string") expect(notes).toContain(phone);
      }
    }

    const custom = leads.map((r) => r.get("custom") as Map<string, string> | null).filter((m) => m !== null);
    for (const key of ["Personal Email", "mobile", "industry", "budget"]) expect(custom.some((m) => m.has(key)), key).toBe(true);
    const addresses = leads.map((r) => r.get("address") as JsonObject | null).filter((a) => a !== null);
    expect(addresses.length).toBeGreaterThan(0);
    expect(Object.keys(addresses[0]!).sort()).toEqual(["city", "country", "street", "zip"]);
  });

  it("keys lead_by_phone by each lead's phone, written as in the lead", async () => {
    const leads = new Map((await rowsOf(first.keyspace, "leads")).map((r) => [`${String(r.get("org_id"))}/${String(r.get("lead_id"))}`, r]));
    const byPhone = await rowsOf(first.keyspace, "lead_by_phone");
    const seen = new Set<string>();
    for (const row of byPhone) {
      const key = `${String(row.get("org_id"))}/${String(row.get("lead_id"))}`;
      const lead = leads.get(key);
      expect(lead, key).toBeDefined();
      expect(primaryPhone(JSON.parse(String(lead!.get("payload"))))).toBe(row.get("phone"));
      expect(seen.has(key), `${key} twice`).toBe(false);
      seen.add(key);
    }
    const withPhone = [...leads.values()].filter((r) => typeof primaryPhone(JSON.parse(String(r.get("payload")))) === "string");
    expect(byPhone.length).toBe(withPhone.length);
    expect(withPhone.length).toBeLessThan(leads.size); // some leads have no phone
  });

  it("reaches every lead note's org through its lead", async () => {
    const leadIds = new Set((await rowsOf(first.keyspace, "leads")).map((r) => String(r.get("lead_id"))));
    const notes = await rowsOf(first.keyspace, "lead_notes");
    expect(notes.every((n) => leadIds.has(String(n.get("lead_id"))))).toBe(true);
  });

  it("writes JSON event payloads, some carrying PII keys", async () => {
    const payloads = (await rowsOf(first.keyspace, "events")).map((r) => JSON.parse(String(r.get("payload"))) as JsonObject);
    const withPii = payloads.filter((p) => "email" in p || "ip" in p || "userAgent" in p);
    expect(withPii.length).toBeGreaterThan(0);
    expect(withPii.length).toBeLessThan(payloads.length / 2);
    const configs = (await rowsOf(first.keyspace, "integrations")).map((r) => JSON.parse(String(r.get("config"))) as JsonObject);
    expect(configs.every((c) => typeof c.apiKey === "string" && typeof c.webhookUrl === "string" && typeof c.accountEmail === "string")).toBe(true);
  });

  it("is covered, table by table and column by column, by examples/leads-rules.yaml", async () => {
    const rules = await loadRules(resolve(import.meta.dirname, "../../../../examples/leads-rules.yaml"));
    const plan = planShrink(rules, await readKeyspaceSchema(client, second.keyspace));
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

  it("refuses an existing keyspace and changes nothing, unless asked to drop it", async () => {
    const attempt = generateDataset(client, { ...args, keyspace: first.keyspace, seed: "9" });
    await expect(attempt).rejects.toThrow(ShrinkError);
    await expect(attempt).rejects.toThrow(`keyspace ${first.keyspace} already exists`);
    expect(await dump(first.keyspace, "orgs")).toEqual(await dump(second.keyspace, "orgs"));

    const replaced = await generateDataset(client, { ...args, orgs: 3, leadsPerOrg: 2, days: 1, eventsPerDay: 1, keyspace: first.keyspace, dropExisting: true });
    expect(replaced.tables.orgs).toBe(3);
    const [row] = (await client.execute(`SELECT count(*) AS n FROM ${first.keyspace}.orgs`)).rows;
    expect(Number(row!.get("n"))).toBe(3);
  });

  it("rejects bad arguments before touching Cassandra", async () => {
    await expect(generateDataset(client, { keyspace: "Bad-Name" })).rejects.toThrow(/keyspace "Bad-Name" is not a valid name/);
    await expect(generateDataset(client, { keyspace: "fine", asOf: "2025-02-30" })).rejects.toThrow(/as-of date "2025-02-30"/);
    await expect(generateDataset(client, { keyspace: "fine", orgs: 0 })).rejects.toThrow(/orgs must be an integer of at least 1/);
  });
});
