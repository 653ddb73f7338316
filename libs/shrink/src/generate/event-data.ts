import type { LeadContact } from "./lead-data.ts";
import type { OrgData } from "./org-data.ts";
import { publicIp } from "./people.ts";
import { Random } from "./random.ts";
import type { EventRow, Json } from "./rows.ts";
import { emailClients, leadStatuses, userAgents } from "./vocabulary.ts";

const dayMs = 86_400_000;

const eventTypes = [
  ["page_view", 45],
  ["email_open", 14],
  ["email_click", 9],
  ["status_change", 8],
  ["form_submit", 7],
  ["score_change", 7],
  ["call_logged", 5],
  ["login", 5],
] as const;

/**
 * The events of one org on one day (one partition of `events`). Most payloads
 * carry no PII; form submits, logins and some opens, clicks and calls carry an
 * `email`, `ip`, `userAgent` or phone.
 */
export function buildEventDay(seed: string, org: OrgData, leads: readonly LeadContact[], day: string, count: number): EventRow[] {
  const rng = Random.for(seed, org.plan.orgId, "events", day);
  const dayStart = Date.parse(`${day}T00:00:00Z`);
  const site = `https://www.${org.company.domain}`;
  const rows: EventRow[] = [];
  for (let i = 0; i < count; i++) {
    const tsMs = dayStart + rng.int(0, dayMs - 1);
    const type = rng.weighted(eventTypes);
    const lead = type === "login" || leads.length === 0 ? undefined : rng.pick(leads);
    let payload: { [key: string]: Json };
    switch (type) {
      case "page_view":
        payload = {
          url: `${site}${rng.pick(["/", "/pricing", "/features", "/blog/lead-scoring-101", "/contact", "/docs/api"])}`,
          referrer: rng.chance(0.5) ? null : rng.pick(["https://www.google.com/", "https://www.bing.com/", "https://t.co/"]),
          durationMs: rng.int(200, 300_000),
          scrollDepth: rng.int(0, 100),
          sessionId: rng.hex(16),
        };
        break;
      case "email_open":
        payload = { campaignId: `cmp-${rng.digits(5)}`, messageId: `<${rng.hex(20)}@mail.${org.company.domain}>`, client: rng.pick(emailClients) };
        if (rng.chance(0.4)) payload.userAgent = rng.pick(userAgents);
        if (lead && rng.chance(0.3)) payload.email = lead.email;
        break;
      case "email_click":
        payload = { campaignId: `cmp-${rng.digits(5)}`, link: `${site}/${rng.pick(["pricing", "demo", "case-studies", "webinar"])}?utm_medium=email` };
        if (rng.chance(0.3)) payload.ip = publicIp(rng);
        break;
      case "status_change":
        payload = { from: rng.pick(leadStatuses), to: rng.pick(leadStatuses), changedBy: rng.pick(org.users).user_id };
        break;
      case "form_submit":
        payload = {
          formId: `form-${rng.int(1, 12)}`,
          email: lead?.email ?? null,
          ip: publicIp(rng),
          userAgent: rng.pick(userAgents),
          fields: { newsletter: rng.chance(0.5), seats: rng.int(1, 250), country: rng.pick(["US", "DE", "GB", "FR", "CA"]) },
        };
        break;
      case "score_change": {
        const from = rng.int(0, 95);
        payload = { from, to: Math.min(100, from + rng.int(1, 20)), reason: rng.pick(["opened 3 emails", "visited pricing", "webinar attendee", "decay"]) };
        break;
      }
      case "call_logged":
        payload = {
          durationSec: rng.int(0, 1800),
          outcome: rng.pick(["connected", "voicemail", "no-answer", "wrong-number"]),
          direction: rng.pick(["outbound", "inbound"]),
        };
        if (lead?.phone !== undefined && rng.chance(0.3)) payload.to = lead.phone;
        break;
      case "login": {
        const user = rng.pick(org.users);
        payload = { email: user.email, ip: publicIp(rng), userAgent: rng.pick(userAgents), mfa: rng.chance(0.6) };
        break;
      }
    }
    rows.push({
      org_id: org.plan.orgId,
      day,
      ts: new Date(tsMs),
      event_id: rng.timeUuid(tsMs),
      lead_id: lead?.leadId,
      type,
      payload: JSON.stringify(payload),
    });
  }
  return rows;
}
