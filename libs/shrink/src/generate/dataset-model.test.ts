import { describe, expect, it } from "vitest";
import { buildEventDay } from "./event-data.ts";
import { buildLead } from "./lead-data.ts";
import { buildAuditLog, buildIntegrations, buildOrg, planOrgs } from "./org-data.ts";
import { makePerson, phoneNumber, publicIp } from "./people.ts";
import { Random } from "./random.ts";
import { locales } from "./vocabulary.ts";

const asOfEndMs = Date.parse("2025-04-01T00:00:00Z");

/** Domains and numbers pseudonyms use: real-looking data must never look like them. */
const reservedDomain = /@(?:[^\s"<>,;]+\.)?(?:example\.(?:com|net|org)|[^\s"<>,;]+\.(?:test|invalid|example|localhost))\b/i;
const fictionalUsPhone = /\b555[-. ]?01\d\d\b/;

describe("org kinds", () => {
  it("has one of each kind from three orgs up", () => {
    for (const n of [3, 4, 7, 19]) {
      const kinds = new Set(planOrgs("1", n).map((p) => p.kind));
      expect([...kinds].sort(), `${n} orgs`).toEqual(["customer", "internal", "sandbox"]);
    }
  });

  it("is about 80 % customer, 15 % sandbox, 5 % internal", () => {
    const kinds = planOrgs("1", 200).map((p) => p.kind);
    expect(kinds.filter((k) => k === "customer")).toHaveLength(160);
    expect(kinds.filter((k) => k === "sandbox")).toHaveLength(30);
    expect(kinds.filter((k) => k === "internal")).toHaveLength(10);
  });

  it("numbers orgs org-000001, org-000002, …", () => {
    expect(planOrgs("1", 2).map((p) => p.orgId)).toEqual(["org-000001", "org-000002"]);
  });
});

describe("the same seed makes the same data", () => {
  it("for a lead, an org's events and its integrations", () => {
    const make = (seed: string) => {
      const [plan] = planOrgs(seed, 1);
      const org = buildOrg(seed, plan!, asOfEndMs);
      const lead = buildLead(seed, org, 3, asOfEndMs);
      return JSON.stringify({ org, lead, events: buildEventDay(seed, org, [lead.contact], "2025-03-31", 5), int: buildIntegrations(seed, org), audit: buildAuditLog(seed, org, asOfEndMs) });
    };
    expect(make("42")).toBe(make("42"));
    expect(make("42")).not.toBe(make("43"));
  });

  it("and a time uuid carries its timestamp", () => {
    const id = new Random("x").timeUuid(Date.parse("2025-03-31T12:00:00Z"));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const hex = id.slice(15, 18) + id.slice(9, 13) + id.slice(0, 8);
    const ms = Number(BigInt(`0x${hex}`) / 10_000n - 12_219_292_800_000n);
    expect(new Date(ms).toISOString()).toBe("2025-03-31T12:00:00.000Z");
  });
});

describe("realistic PII that never looks like a pseudonym", () => {
  it("phones: varied formats, country codes, never 555-01xx or +999", () => {
    const rng = new Random("phones");
    const phones = Array.from({ length: 20_000 }, () => phoneNumber(rng, rng.weighted(locales)));
    expect(phones.filter((p) => fictionalUsPhone.test(p) || p.startsWith("+999"))).toEqual([]);
    for (const shape of [/^\+1 \d{3} \d{3} \d{4}$/, /^\(\d{3}\) \d{3}-\d{4}$/, /^\+44 /, /^\+49 /, /^0\d/]) {
      expect(phones.some((p) => shape.test(p)), String(shape)).toBe(true);
    }
  });

  it("emails: derived from names, on no reserved domain", () => {
    const rng = new Random("emails");
    const emails = Array.from({ length: 5_000 }, () => makePerson(rng).email);
    expect(emails.filter((e) => reservedDomain.test(e))).toEqual([]);
    expect(emails.every((e) => /^[a-z0-9._]+@[a-z0-9.-]+\.[a-z]{2,}$/.test(e))).toBe(true);
  });

  it("every string of every lead, event and integration", () => {
    const seed = "scan";
    const texts: string[] = [];
    for (const plan of planOrgs(seed, 12)) {
      const org = buildOrg(seed, plan, asOfEndMs);
      const leads = Array.from({ length: 40 }, (_, i) => buildLead(seed, org, i, asOfEndMs));
      texts.push(JSON.stringify(org), JSON.stringify(leads, (_, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v)));
      texts.push(JSON.stringify(buildEventDay(seed, org, leads.map((l) => l.contact), "2025-03-30", 50)), JSON.stringify(buildIntegrations(seed, org)));
    }
    const all = texts.join("\n");
    expect(all).not.toMatch(reservedDomain);
    expect(all).not.toMatch(fictionalUsPhone);
    expect(all).not.toContain("+999");
  });

  it("IP addresses are public", () => {
    const rng = new Random("ips");
    for (let i = 0; i < 5_000; i++) {
      const ip = publicIp(rng);
      expect(ip).not.toMatch(/^(10|127|0)\.|^192\.168\.|^172\.(1[6-9]|2\d|3[01])\.|^192\.0\.2\.|^198\.51\.100\.|^203\.0\.113\./);
    }
  });
});
