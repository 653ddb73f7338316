/**
 * The schema of the generated lead-management dataset. The example shrink
 * rules (examples/leads-rules.yaml), the shrink tests and the benchmarks use
 * these names: change them together.
 */

/** Every table, in the order they are reported. */
export const leadsTables = [
  "countries",
  "orgs",
  "users",
  "leads",
  "lead_notes",
  "lead_by_phone",
  "events",
  "integrations",
  "lead_counters",
  "audit_log",
] as const;
export type LeadsTable = (typeof leadsTables)[number];

/** CREATE statements for the type and tables, inside `keyspace`. */
export function leadsSchemaCql(keyspace: string): string[] {
  const ks = keyspace;
  return [
    `CREATE TYPE ${ks}.address (street text, city text, zip text, country text)`,
    `CREATE TABLE ${ks}.orgs (org_id text PRIMARY KEY, name text, kind text, plan text, created_at timestamp)`,
    `CREATE TABLE ${ks}.users (org_id text, user_id uuid, email text, name text, phone text, role text, PRIMARY KEY (org_id, user_id))`,
    `CREATE TABLE ${ks}.leads (org_id text, lead_id uuid, created_at timestamp, status text, owner_id uuid, payload text, notes text, ` +
      `custom map<text, text>, address frozen<address>, score int, PRIMARY KEY (org_id, lead_id))`,
    `CREATE TABLE ${ks}.lead_notes (lead_id uuid, note_id timeuuid, author_email text, body text, PRIMARY KEY (lead_id, note_id))`,
    `CREATE TABLE ${ks}.lead_by_phone (phone text, org_id text, lead_id uuid, PRIMARY KEY (phone, org_id, lead_id))`,
    `CREATE TABLE ${ks}.events (org_id text, day date, ts timestamp, event_id timeuuid, lead_id uuid, type text, payload text, ` +
      `PRIMARY KEY ((org_id, day), ts, event_id)) WITH CLUSTERING ORDER BY (ts DESC, event_id ASC)`,
    `CREATE TABLE ${ks}.integrations (org_id text, vendor text, credentials text, config text, enabled boolean, PRIMARY KEY (org_id, vendor))`,
    `CREATE TABLE ${ks}.lead_counters (org_id text, day date, leads_created counter, events counter, PRIMARY KEY (org_id, day))`,
    `CREATE TABLE ${ks}.countries (code text PRIMARY KEY, name text)`,
    `CREATE TABLE ${ks}.audit_log (org_id text, ts timeuuid, actor_email text, action text, ip inet, PRIMARY KEY (org_id, ts))`,
  ];
}

/** The write statement of each table (an UPDATE for the counter table), with named markers. */
export function leadsWriteCql(keyspace: string): Record<LeadsTable, string> {
  const insert = (table: string, columns: readonly string[]) =>
    `INSERT INTO ${keyspace}.${table} (${columns.join(", ")}) VALUES (${columns.map((c) => `:${c}`).join(", ")})`;
  return {
    countries: insert("countries", ["code", "name"]),
    orgs: insert("orgs", ["org_id", "name", "kind", "plan", "created_at"]),
    users: insert("users", ["org_id", "user_id", "email", "name", "phone", "role"]),
    leads: insert("leads", ["org_id", "lead_id", "created_at", "status", "owner_id", "payload", "notes", "custom", "address", "score"]),
    lead_notes: insert("lead_notes", ["lead_id", "note_id", "author_email", "body"]),
    lead_by_phone: insert("lead_by_phone", ["phone", "org_id", "lead_id"]),
    events: insert("events", ["org_id", "day", "ts", "event_id", "lead_id", "type", "payload"]),
    integrations: insert("integrations", ["org_id", "vendor", "credentials", "config", "enabled"]),
    lead_counters:
      `UPDATE ${keyspace}.lead_counters SET leads_created = leads_created + :leads_created, events = events + :events ` +
      `WHERE org_id = :org_id AND day = :day`,
    audit_log: insert("audit_log", ["org_id", "ts", "actor_email", "action", "ip"]),
  };
}
