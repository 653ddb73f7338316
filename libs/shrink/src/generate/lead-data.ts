import type { OrgData } from "./org-data.ts";
import { asciiSlug, makeCompany, makePerson, personalEmail, phoneNumber, postalAddress, publicIp, type Company, type Person } from "./people.ts";
import { Random } from "./random.ts";
import type { Json, LeadByPhoneRow, LeadNoteRow, LeadRow } from "./rows.ts";
import {
  industries,
  jobTitles,
  leadSources,
  leadStatuses,
  tags,
  tradeShows,
  utmCampaigns,
  utmMediums,
  utmSources,
} from "./vocabulary.ts";

const dayMs = 86_400_000;

/** What events need to know about a lead. */
export interface LeadContact {
  leadId: string;
  fullName: string;
  email: string;
  phone: string | undefined;
  createdMs: number;
}

/** One lead with the rows that hang off it. */
export interface LeadData {
  row: LeadRow;
  notes: LeadNoteRow[];
  byPhone: LeadByPhoneRow | undefined;
  contact: LeadContact;
}

/**
 * The `index`-th lead of an org. Its contact's email, phone and name sit in
 * the payload under one of several spellings and depths, in the notes' prose,
 * sometimes in `custom`, and the phone keys `lead_by_phone`, written exactly
 * alike everywhere.
 */
export function buildLead(seed: string, org: OrgData, index: number, asOfEndMs: number): LeadData {
  const rng = Random.for(seed, org.plan.orgId, "lead", index);
  const leadId = rng.uuid();
  const company = makeCompany(rng);
  const person = makePerson(rng, { locale: company.locale, domain: rng.chance(0.75) ? company.domain : undefined });
  const owner = rng.pick(org.users);
  const orgAgeDays = Math.floor((asOfEndMs - org.row.created_at.getTime()) / dayMs);
  const createdMs = asOfEndMs - rng.int(0, Math.min(365, orgAgeDays) * dayMs - 1);
  const colleague = makePerson(rng, { locale: company.locale, domain: company.domain });

  const row: LeadRow = {
    org_id: org.plan.orgId,
    lead_id: leadId,
    created_at: new Date(createdMs),
    status: rng.pick(leadStatuses),
    owner_id: owner.user_id,
    payload: JSON.stringify(leadPayload(rng, { person, company, colleague, owner, createdMs })),
    notes: rng.chance(0.85) ? leadNotesText(rng, person, company) : undefined,
    custom: customFields(rng, person),
    address: rng.chance(0.7) ? postalAddress(rng, company.locale) : undefined,
    score: rng.chance(0.85) ? rng.int(0, 100) : undefined,
  };

  const notes: LeadNoteRow[] = [];
  const noteCount = rng.weighted([
    [0, 2],
    [1, 3],
    [2, 3],
    [3, 2],
    [4, 1],
  ]);
  for (let i = 0; i < noteCount; i++) {
    const at = Math.min(asOfEndMs - 1, createdMs + rng.int(0, 60 * dayMs));
    notes.push({ lead_id: leadId, note_id: rng.timeUuid(at), author_email: rng.pick(org.users).email, body: noteBody(rng, person, colleague) });
  }

  return {
    row,
    notes,
    byPhone: person.phone === undefined ? undefined : { phone: person.phone, org_id: org.plan.orgId, lead_id: leadId },
    contact: { leadId, fullName: person.fullName, email: person.email, phone: person.phone, createdMs },
  };
}

interface PayloadParts {
  person: Person;
  company: Company;
  colleague: Person;
  owner: { user_id: string; email: string };
  createdMs: number;
}

/**
 * Schemaless JSON as a web form, a CRM import or an API client would send it:
 * the contact's email under `email`, `E-Mail`, `contact.emailAddress` or
 * `contacts[0].email`; the phone under `phone`, `contact.Phone` or
 * `contacts[0].phone_number`; the name under `fullName` or `contacts[0].name`;
 * sometimes `billing.contact`, `meta.owner.mail` and a free-text `message`;
 * around them fields that are not PII (utm, tags, numbers, booleans, nulls).
 */
function leadPayload(rng: Random, parts: PayloadParts): Json {
  const { person, company, colleague, owner } = parts;
  const emailAt = rng.pick(["email", "E-Mail", "contact.emailAddress", "contacts"] as const);
  const phoneAt = rng.pick(["phone", "contact.Phone", "contacts"] as const);
  const nameAt = rng.pick(["fullName", "contacts"] as const);
  const phone = person.phone ?? (rng.chance(0.5) ? null : undefined);
  const p: { [key: string]: Json } = {};

  p.source = rng.pick(leadSources);
  if (nameAt === "fullName") p.fullName = person.fullName;
  if (emailAt === "email") p.email = person.email;
  if (emailAt === "E-Mail") p["E-Mail"] = person.email;
  if (phoneAt === "phone" && phone !== undefined) p.phone = phone;
  if (emailAt === "contact.emailAddress" || phoneAt === "contact.Phone") {
    const contact: { [key: string]: Json } = {};
    if (emailAt === "contact.emailAddress") contact.emailAddress = person.email;
    if (phoneAt === "contact.Phone" && phone !== undefined) contact.Phone = phone;
    contact.title = rng.pick(jobTitles);
    contact.preferredChannel = rng.pick(["email", "phone", "linkedin", null]);
    p.contact = contact;
  }
  if (emailAt === "contacts" || phoneAt === "contacts" || nameAt === "contacts") {
    const first: { [key: string]: Json } = { name: person.fullName, email: person.email };
    if (phoneAt === "contacts" || rng.chance(0.3)) first.phone_number = phone ?? null;
    const contacts: Json[] = [first];
    if (rng.chance(0.35)) contacts.push({ name: colleague.fullName, email: colleague.email, phone_number: colleague.phone ?? null });
    p.contacts = contacts;
  }
  p.company = rng.chance(0.6)
    ? company.name
    : { name: company.name, website: `https://www.${company.domain}`, employees: rng.pick([8, 25, 60, 140, 420, 1200, 5400]) };
  if (rng.chance(0.6)) p.utm = { source: rng.pick(utmSources), medium: rng.pick(utmMediums), campaign: rng.pick(utmCampaigns) };
  p.tags = rng.sample(tags, rng.int(0, 3));
  p.pageViews = rng.int(1, 60);
  p.consent = rng.chance(0.8);
  if (rng.chance(0.5)) p.newsletter = rng.chance(0.4);
  p.referrer = rng.chance(0.4) ? rng.pick(["https://www.google.com/", "https://www.linkedin.com/", "https://news.ycombinator.com/"]) : null;
  if (rng.chance(0.2)) p.fax = null;
  if (rng.chance(0.3)) {
    p.billing = {
      contact: rng.chance(0.5) ? person.fullName : colleague.fullName,
      company: company.name,
      currency: rng.pick(["USD", "EUR", "GBP", "CAD"]),
      vatId: rng.chance(0.5) ? `${company.locale.country}${rng.digits(9)}` : null,
    };
  }
  if (rng.chance(0.4)) {
    p.meta = {
      owner: { mail: owner.email, id: owner.user_id },
      formVersion: rng.int(1, 7),
      receivedAt: new Date(parts.createdMs).toISOString(),
      ip: rng.chance(0.3) ? publicIp(rng) : null,
    };
  }
  if (rng.chance(0.45)) p.message = messageText(rng, person, company);
  p.locale = rng.pick(["en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "nl-NL"]);
  return p;
}

/** A free-text form message that mentions an email and a phone. */
function messageText(rng: Random, person: Person, company: Company): string {
  // without a phone of their own, people give the switchboard
  const phone = person.phone ?? phoneNumber(rng, company.locale);
  const { first, fullName, email } = person;
  return endSentences(rng.pick([
    `Hi, this is ${first} from ${company.name}. We're evaluating tools for our sales team — please call me on ${phone} or email ${email}.`,
    `Please send pricing to ${email}. Best reached at ${phone} after 3pm.`,
    `Guten Tag, bitte rufen Sie mich unter ${phone} zurück oder schreiben Sie an ${email}. Viele Grüße, ${fullName}`,
    `Bonjour, merci de me contacter au ${phone} ou par mail : ${email}. Cordialement, ${fullName}`,
    `Hola, pueden llamarme al ${phone} o escribirme a ${email}. Gracias, ${first}`,
    `Need a quote for 25 seats.\nContact: ${fullName} <${email}>\nTel: ${phone}`,
  ]));
}

/** The `notes` column: prose that names the lead and gives their email and phone. */
function leadNotesText(rng: Random, person: Person, company: Company): string {
  const { first, fullName, email, phone } = person;
  // every opening names the lead in full: that is the PII a scrubber must find in prose
  const opening =
    phone === undefined
      ? rng.pick([
          `Emailed ${fullName} at ${email}, no phone number on file.`,
          `${fullName} (${email}) signed up for the webinar; no phone given.`,
        ])
      : rng.pick([
          `Called ${fullName} on ${phone}, they asked to email ${email} with the pricing deck.`,
          `Spoke with ${fullName} (${phone}), interested in the pro plan. Follow up at ${email} next week.`,
          `${fullName} wrote from ${email}: wants a demo for ${company.name}. Best number: ${phone}.`,
          `Left voicemail for ${fullName} at ${phone}. Sent recap to ${email}; ${first} prefers email.`,
          `Met ${fullName} at ${rng.pick(tradeShows)}; card says ${email}, ${phone}.`,
        ]);
  const extra = rng.pick([
    "",
    " Budget approved for Q3.",
    ` Currently using a competitor, contract ends in ${rng.int(1, 11)} months.`,
    " Decision maker is the CFO.",
    ` Prefers calls before ${rng.int(9, 11)}am.`,
  ]);
  return endSentences(opening + extra);
}

/** Company names may end in a period ("Acme Inc."); a sentence after them gets just one. */
function endSentences(text: string): string {
  return text.replace(/\.\./g, ".");
}

/** A note in `lead_notes`: sometimes PII of the lead or a colleague, sometimes none. */
function noteBody(rng: Random, person: Person, colleague: Person): string {
  const { first, email, phone } = person;
  const options = [
    `Sent proposal v${rng.int(1, 4)} to ${email}.`,
    `${first} asked for a SOC 2 report and two references.`,
    `Budget confirmed (${rng.pick(["€20k", "$45,000", "£12k/yr", "$8k"])}); decision expected in ${rng.int(2, 8)} weeks.`,
    `CC'd ${colleague.fullName} <${colleague.email}> from procurement.`,
    `Demo went well. ${first} wants to loop in their CTO.`,
    "Meeting moved to Thursday per assistant.",
    "No answer, will retry.",
  ];
  if (phone !== undefined) {
    options.push(`Follow-up call with ${first}: ${phone} went to voicemail.`, `Bounced: ${email}. Asked ${first} for a new address on ${phone}.`);
  }
  return rng.pick(options);
}

/** `custom` map<text, text>: custom fields, some PII, some not; unset when there are none. */
function customFields(rng: Random, person: Person): Map<string, string> | undefined {
  const fields = new Map<string, string>();
  if (rng.chance(0.7)) fields.set("industry", rng.pick(industries));
  if (rng.chance(0.5)) fields.set("budget", rng.pick(["< 5k", "5k-20k", "20k-50k", "50k-100k", "€75,000", "$120k", "unknown"]));
  if (rng.chance(0.35)) fields.set("Personal Email", personalEmail(rng, person));
  if (rng.chance(0.3)) fields.set("mobile", person.phone !== undefined && rng.chance(0.5) ? person.phone : phoneNumber(rng, person.locale));
  if (rng.chance(0.4)) fields.set("employees", rng.pick(["1-10", "11-50", "51-200", "201-1000", "1000+"]));
  if (rng.chance(0.15)) fields.set("LinkedIn", `https://www.linkedin.com/in/${asciiSlug(person.first)}-${asciiSlug(person.last)}-${rng.hex(6)}`);
  if (rng.chance(0.2)) fields.set("Lead Source Detail", `Booth #${rng.int(1, 80)} at ${rng.pick(tradeShows)}`);
  return fields.size === 0 ? undefined : fields;
}
