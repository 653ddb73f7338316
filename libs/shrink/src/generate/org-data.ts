import { makeCompany, makePerson, publicIp, type Company } from "./people.ts";
import { Random } from "./random.ts";
import type { AuditLogRow, IntegrationRow, OrgKind, OrgRow, UserRow } from "./rows.ts";
import { auditActions, integrationVendors, locales, userRoles, vendorCompany } from "./vocabulary.ts";

const dayMs = 86_400_000;

/** An organisation before its data is made: its id, position and kind. */
export interface OrgPlan {
  index: number;
  orgId: string;
  kind: OrgKind;
}

/** `org-000001`, `org-000002`, … */
export function orgId(index: number): string {
  return `org-${String(index + 1).padStart(6, "0")}`;
}

/**
 * Kinds in fixed proportions (about 80 % customer, 15 % sandbox, 5 % internal,
 * at least one of each from three orgs up), shuffled by the seed.
 */
export function planOrgs(seed: string, count: number): OrgPlan[] {
  let internal = Math.round(count * 0.05);
  let sandbox = Math.round(count * 0.15);
  if (count >= 3) {
    internal = Math.max(1, internal);
    sandbox = Math.max(1, sandbox);
  } else {
    internal = 0;
    sandbox = count - 1;
  }
  const kinds: OrgKind[] = [
    ...Array<OrgKind>(count - internal - sandbox).fill("customer"),
    ...Array<OrgKind>(sandbox).fill("sandbox"),
    ...Array<OrgKind>(internal).fill("internal"),
  ];
  const shuffled = Random.for(seed, "org-kinds", count).shuffle(kinds);
  return shuffled.map((kind, index) => ({ index, orgId: orgId(index), kind }));
}

/** An organisation with its company and staff; leads and events are made from it. */
export interface OrgData {
  plan: OrgPlan;
  row: OrgRow;
  company: Company;
  users: UserRow[];
}

export function buildOrg(seed: string, plan: OrgPlan, asOfEndMs: number): OrgData {
  const rng = Random.for(seed, plan.orgId, "org");
  const company =
    plan.kind === "internal"
      ? { name: vendorCompany.name, domain: vendorCompany.domain, locale: locales[0]![0] }
      : makeCompany(rng);
  const name =
    plan.kind === "internal"
      ? `${vendorCompany.name} – ${rng.pick(["Sales", "QA", "Support", "Demo", "Onboarding", "Partnerships"])}`
      : plan.kind === "sandbox"
        ? rng.pick([`${company.name} Sandbox`, `${company.name} (staging)`, `${company.name} – Test`, company.name])
        : company.name;
  const row: OrgRow = {
    org_id: plan.orgId,
    name,
    kind: plan.kind,
    plan:
      plan.kind === "internal"
        ? "internal"
        : rng.weighted([
            ["starter", 4],
            ["pro", 3],
            ["business", 2],
            ["enterprise", 1],
          ]),
    created_at: new Date(asOfEndMs - rng.int(400, 2500) * dayMs - rng.int(0, dayMs - 1)),
  };

  const userRng = Random.for(seed, plan.orgId, "users");
  const users: UserRow[] = [];
  const userCount = userRng.int(4, 6);
  for (let i = 0; i < userCount; i++) {
    const person = makePerson(userRng, { locale: company.locale, domain: company.domain, phoneChance: 0.7 });
    users.push({
      org_id: plan.orgId,
      user_id: userRng.uuid(),
      email: person.email,
      name: person.fullName,
      phone: person.phone,
      role: i === 0 ? "admin" : userRng.pick(userRoles),
    });
  }
  return { plan, row, company, users };
}

/** Connected vendors: API keys and secrets in `credentials`, JSON settings in `config`. */
export function buildIntegrations(seed: string, org: OrgData): IntegrationRow[] {
  const rng = Random.for(seed, org.plan.orgId, "integrations");
  const admin = org.users[0]!;
  const vendors = rng.sample(integrationVendors, org.plan.kind === "internal" ? rng.int(2, 4) : rng.int(1, 3)).sort();
  const live = org.plan.kind !== "sandbox";
  const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return vendors.map((vendor): IntegrationRow => {
    let credentials: string;
    let webhookUrl = `https://hooks.${org.company.domain}/${vendor}/${rng.hex(16)}`;
    switch (vendor) {
      case "stripe":
        credentials = `${live ? "sk_live_" : "sk_test_"}${rng.chars(24, alnum)}`;
        break;
      case "hubspot":
        credentials = `pat-na1-${rng.uuid()}`;
        break;
      case "slack":
        credentials = `xoxb-${rng.digits(12)}-${rng.digits(13)}-${rng.chars(24, alnum)}`;
        webhookUrl = `https://hooks.slack.com/services/T${rng.chars(8, alnum).toUpperCase()}/B${rng.chars(10, alnum).toUpperCase()}/${rng.chars(24, alnum)}`;
        break;
      case "twilio":
        credentials = `AC${rng.hex(32)}:${rng.hex(32)}`;
        break;
      case "mailchimp":
        credentials = `${rng.hex(32)}-us${rng.int(1, 21)}`;
        break;
      case "salesforce":
        credentials = JSON.stringify({
          client_id: `3MVG9${rng.chars(80, alnum)}`,
          client_secret: rng.hex(64).toUpperCase(),
          refresh_token: `5Aep861${rng.chars(80, alnum)}`,
        });
        break;
      case "zapier":
        credentials = `zap_${rng.chars(32, alnum)}`;
        webhookUrl = `https://hooks.zapier.com/hooks/catch/${rng.digits(7)}/${rng.chars(6, alnum).toLowerCase()}/`;
        break;
      case "segment":
        credentials = rng.chars(32, alnum); // a write key
        break;
    }
    const config = {
      apiKey: `${vendor.slice(0, 3)}_${live ? "pk" : "tk"}_${rng.chars(28, alnum)}`,
      webhookUrl,
      accountEmail: rng.chance(0.8) ? admin.email : rng.pick(org.users).email,
      syncIntervalMinutes: rng.pick([5, 15, 30, 60, 1440]),
      region: rng.pick(["us-east-1", "eu-central-1", "eu-west-1", null]),
      fieldMapping: { email: rng.pick(["Email", "email_address", "EMAIL"]), phone: rng.pick(["Phone", "MobilePhone", "phone_number"]) },
      lastSyncOk: rng.chance(0.9),
    };
    return { org_id: org.plan.orgId, vendor, credentials, config: JSON.stringify(config), enabled: rng.chance(0.8) };
  });
}

/** Who did what from where (the rules drop this table whole). */
export function buildAuditLog(seed: string, org: OrgData, asOfEndMs: number, count = 20): AuditLogRow[] {
  const rng = Random.for(seed, org.plan.orgId, "audit");
  const rows: AuditLogRow[] = [];
  for (let i = 0; i < count; i++) {
    const user = rng.pick(org.users);
    rows.push({
      org_id: org.plan.orgId,
      ts: rng.timeUuid(asOfEndMs - rng.int(1, 90 * dayMs)),
      actor_email: user.email,
      action: rng.pick(auditActions),
      ip: publicIp(rng),
    });
  }
  return rows;
}
