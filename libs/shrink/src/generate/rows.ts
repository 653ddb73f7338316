/**
 * One interface per table of the generated dataset, holding values in the
 * shapes cassandra-driver encodes for prepared statements: uuid, timeuuid,
 * date and inet as text, timestamp as Date, map<text, text> as Map, the
 * `address` UDT as a plain object. An absent cell is `undefined` (unset).
 */

export const orgKinds = ["customer", "sandbox", "internal"] as const;
export type OrgKind = (typeof orgKinds)[number];

export interface OrgRow {
  org_id: string;
  name: string;
  kind: OrgKind;
  plan: string;
  created_at: Date;
}

export interface UserRow {
  org_id: string;
  user_id: string;
  email: string;
  name: string;
  phone: string | undefined;
  role: string;
}

export interface AddressUdt {
  street: string;
  city: string;
  zip: string;
  country: string;
}

export interface LeadRow {
  org_id: string;
  lead_id: string;
  created_at: Date;
  status: string;
  owner_id: string;
  /** Schemaless JSON. */
  payload: string;
  notes: string | undefined;
  custom: Map<string, string> | undefined;
  address: AddressUdt | undefined;
  score: number | undefined;
}

export interface LeadNoteRow {
  lead_id: string;
  note_id: string;
  author_email: string;
  body: string;
}

export interface LeadByPhoneRow {
  phone: string;
  org_id: string;
  lead_id: string;
}

export interface EventRow {
  org_id: string;
  /** YYYY-MM-DD */
  day: string;
  ts: Date;
  event_id: string;
  lead_id: string | undefined;
  type: string;
  payload: string;
}

export interface IntegrationRow {
  org_id: string;
  vendor: string;
  credentials: string;
  config: string;
  enabled: boolean;
}

export interface LeadCounterRow {
  org_id: string;
  day: string;
  leads_created: number | undefined;
  events: number | undefined;
}

export interface CountryRow {
  code: string;
  name: string;
}

export interface AuditLogRow {
  org_id: string;
  ts: string;
  actor_email: string;
  action: string;
  ip: string;
}

/** A JSON value as it is written into the schemaless text columns. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
