import type cassandra from "cassandra-driver";
import { ShrinkError } from "../errors.ts";
import { buildEventDay } from "./event-data.ts";
import { buildLead, type LeadContact, type LeadData } from "./lead-data.ts";
import { leadsSchemaCql, leadsTables, leadsWriteCql, type LeadsTable } from "./leads-schema.ts";
import { buildAuditLog, buildIntegrations, buildOrg, planOrgs, type OrgPlan } from "./org-data.ts";
import { RequestPool } from "./request-pool.ts";
import type { LeadCounterRow, OrgKind } from "./rows.ts";
import { countries } from "./vocabulary.ts";

const dayMs = 86_400_000;

export interface GenerateOptions {
  /** Created by the run; it must not exist yet unless `dropExisting`. */
  keyspace: string;
  orgs?: number;
  leadsPerOrg?: number;
  /** Days of events, ending with `asOf`. */
  days?: number;
  /** Events per org and day. */
  eventsPerDay?: number;
  /** Same seed and options, same data (byte for byte). */
  seed?: string;
  /** YYYY-MM-DD (UTC): the last day of events; timestamps are relative to its end. Default: today. */
  asOf?: string;
  /** CQL replication map of the new keyspace. */
  replication?: string;
  /** Drop the keyspace first when it exists. */
  dropExisting?: boolean;
  /** Requests in flight against Cassandra. */
  concurrency?: number;
  /** Where "today" comes from when `asOf` is not given. */
  now?: () => Date;
}

export const generateDefaults = {
  orgs: 50,
  leadsPerOrg: 200,
  days: 30,
  eventsPerDay: 20,
  seed: "1",
  replication: "{'class': 'SimpleStrategy', 'replication_factor': 1}",
  concurrency: 256,
} as const;

export interface GenerateProgress {
  phase: "schema" | "write" | "done";
  orgsDone: number;
  orgsTotal: number;
  /** Rows Cassandra has acknowledged. */
  rowsDone: number;
  /** Extrapolated from the orgs made so far; unknown before the first. */
  rowsEstimate: number | undefined;
  elapsedSeconds: number;
  /** Seconds since the schema was in place: the time rates are measured over. */
  writeSeconds: number;
}

export interface GeneratedOrg {
  orgId: string;
  name: string;
  kind: OrgKind;
}

export interface GenerateResult {
  keyspace: string;
  seed: string;
  asOf: string;
  orgs: number;
  leadsPerOrg: number;
  days: number;
  eventsPerDay: number;
  /** Rows written per table (counter table: rows, not increments). */
  tables: Record<LeadsTable, number>;
  totalRows: number;
  /** Wall time, schema included. */
  seconds: number;
  /** Rows per second while writing (schema creation excluded). */
  rowsPerSecond: number;
  /** Writes that timed out or met an overloaded node and were retried. */
  retries: number;
  orgList: GeneratedOrg[];
}

const leadsPerBatch = 25;
const rowsPerBatch = 100;

/**
 * Creates `keyspace` with the lead-management schema and fills it with a
 * multi-tenant dataset made from the seed: customer, sandbox and internal orgs,
 * their users, leads (PII in columns, JSON payloads, free text, a map and a
 * UDT), notes, a phone lookup table, time-bucketed events, integrations with
 * secrets, counters, a global countries table and an audit log.
 */
export async function generateDataset(
  client: cassandra.Client,
  options: GenerateOptions,
  onProgress: (p: GenerateProgress) => void = () => {},
): Promise<GenerateResult> {
  const o = resolveOptions(options);
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const plans = planOrgs(o.seed, o.orgs);
  const progress = { orgsDone: 0, rowsDone: 0, rowsSubmitted: 0, writeStarted: undefined as number | undefined };
  const report = (phase: GenerateProgress["phase"]) =>
    onProgress({
      phase,
      orgsDone: progress.orgsDone,
      orgsTotal: o.orgs,
      rowsDone: progress.rowsDone,
      rowsEstimate: progress.orgsDone === 0 ? undefined : Math.round((progress.rowsSubmitted / progress.orgsDone) * o.orgs),
      elapsedSeconds: elapsed(),
      writeSeconds: progress.writeStarted === undefined ? 0 : (performance.now() - progress.writeStarted) / 1000,
    });

  await createSchema(client, o, () => report("schema"));

  const cql = leadsWriteCql(o.keyspace);
  const counts = Object.fromEntries(leadsTables.map((t) => [t, 0])) as Record<LeadsTable, number>;
  const pool = new RequestPool(o.concurrency);
  const write: PartitionWriter = async (table, rows) => {
    if (rows.length === 0) return;
    const counter = table === "lead_counters";
    progress.rowsSubmitted += rows.length;
    const request =
      rows.length === 1
        ? () => client.execute(cql[table], rows[0], { prepare: true })
        : () => client.batch(rows.map((params) => ({ query: cql[table], params })), { prepare: true, logged: false, counter });
    await pool.submit(request, {
      // a counter increment applied twice counts twice: never retried
      idempotent: !counter,
      onDone: () => {
        counts[table] += rows.length;
        progress.rowsDone += rows.length;
      },
    });
  };

  const writeStart = performance.now();
  progress.writeStarted = writeStart;
  report("write");
  let lastReport = writeStart;
  const orgList: GeneratedOrg[] = [];
  try {
    for (const [code, name] of countries) await write("countries", [{ code, name }]);
    const eventDays = Array.from({ length: o.days }, (_, i) => isoDay(o.asOfEndMs - (o.days - i) * dayMs));
    for (const plan of plans) {
      orgList.push(await writeOrg(o, plan, eventDays, write));
      progress.orgsDone++;
      if (performance.now() - lastReport >= 1000) {
        lastReport = performance.now();
        report("write");
      }
    }
    await pool.drain();
  } catch (error) {
    // let the requests in flight settle before the caller shuts the client down
    await pool.drain().catch(() => {});
    if (error instanceof ShrinkError) throw error;
    throw new ShrinkError("failed", `writing keyspace ${o.keyspace} failed: ${(error as Error).message}`, { cause: error });
  }
  report("done");

  const seconds = elapsed();
  const writeSeconds = (performance.now() - writeStart) / 1000;
  const totalRows = Object.values(counts).reduce((a, b) => a + b, 0);
  return {
    keyspace: o.keyspace,
    seed: o.seed,
    asOf: o.asOf,
    orgs: o.orgs,
    leadsPerOrg: o.leadsPerOrg,
    days: o.days,
    eventsPerDay: o.eventsPerDay,
    tables: counts,
    totalRows,
    seconds,
    rowsPerSecond: writeSeconds > 0 ? totalRows / writeSeconds : 0,
    retries: pool.retries,
    orgList,
  };
}

/** Writes rows of ONE partition: a single statement, or an unlogged batch; resolves once a request slot is taken. */
type PartitionWriter = (table: LeadsTable, rows: readonly object[]) => Promise<void>;

/** One org and everything that belongs to it, partition by partition. */
async function writeOrg(o: ResolvedOptions, plan: OrgPlan, eventDays: readonly string[], write: PartitionWriter): Promise<GeneratedOrg> {
  const org = buildOrg(o.seed, plan, o.asOfEndMs);
  await write("orgs", [org.row]);
  await write("users", org.users);
  await write("integrations", buildIntegrations(o.seed, org));
  await write("audit_log", buildAuditLog(o.seed, org, o.asOfEndMs));

  const perDay = new Map<string, { leads: number; events: number }>();
  const tally = (day: string) => perDay.get(day) ?? perDay.set(day, { leads: 0, events: 0 }).get(day)!;
  const contacts: LeadContact[] = [];
  let batch: LeadData[] = [];
  for (let i = 0; i < o.leadsPerOrg; i++) {
    const lead = buildLead(o.seed, org, i, o.asOfEndMs);
    contacts.push(lead.contact);
    tally(isoDay(lead.contact.createdMs)).leads++;
    batch.push(lead);
    if (batch.length === leadsPerBatch || i === o.leadsPerOrg - 1) {
      await write("leads", batch.map((l) => l.row));
      for (const l of batch) {
        await write("lead_notes", l.notes);
        if (l.byPhone) await write("lead_by_phone", [l.byPhone]);
      }
      batch = [];
    }
  }

  for (const day of eventDays) {
    const events = buildEventDay(o.seed, org, contacts, day, o.eventsPerDay);
    for (let i = 0; i < events.length; i += rowsPerBatch) await write("events", events.slice(i, i + rowsPerBatch));
    tally(day).events += events.length;
  }

  const counters: LeadCounterRow[] = [...perDay]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    // an increment of zero would still create the cell; leave it absent like production does
    .map(([day, t]) => ({ org_id: plan.orgId, day, leads_created: t.leads || undefined, events: t.events || undefined }));
  for (let i = 0; i < counters.length; i += rowsPerBatch) await write("lead_counters", counters.slice(i, i + rowsPerBatch));
  return { orgId: plan.orgId, name: org.row.name, kind: plan.kind };
}

interface ResolvedOptions {
  keyspace: string;
  orgs: number;
  leadsPerOrg: number;
  days: number;
  eventsPerDay: number;
  seed: string;
  asOf: string;
  asOfEndMs: number;
  replication: string;
  dropExisting: boolean;
  concurrency: number;
}

function resolveOptions(options: GenerateOptions): ResolvedOptions {
  const keyspace = options.keyspace;
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(keyspace)) {
    throw new ShrinkError("invalid-input", `keyspace "${keyspace}" is not a valid name (lowercase letters, digits and _, starting with a letter, at most 48)`);
  }
  const count = (name: string, value: number | undefined, fallback: number, min: number) => {
    const n = value ?? fallback;
    if (!Number.isSafeInteger(n) || n < min) throw new ShrinkError("invalid-input", `${name} must be an integer of at least ${min}, got ${n}`);
    return n;
  };
  const asOf = options.asOf ?? isoDay((options.now ?? (() => new Date()))().getTime());
  const asOfStart = /^\d{4}-\d{2}-\d{2}$/.test(asOf) ? Date.parse(`${asOf}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(asOfStart) || isoDay(asOfStart) !== asOf) {
    throw new ShrinkError("invalid-input", `as-of date "${asOf}" is not a valid YYYY-MM-DD date`);
  }
  const replication = (options.replication ?? generateDefaults.replication).trim();
  if (!/^\{[^;]*\}$/s.test(replication)) {
    throw new ShrinkError("invalid-input", `replication must be a CQL map like ${generateDefaults.replication}, got ${replication}`);
  }
  return {
    keyspace,
    orgs: count("orgs", options.orgs, generateDefaults.orgs, 1),
    leadsPerOrg: count("leads per org", options.leadsPerOrg, generateDefaults.leadsPerOrg, 0),
    days: count("days", options.days, generateDefaults.days, 0),
    eventsPerDay: count("events per day", options.eventsPerDay, generateDefaults.eventsPerDay, 0),
    seed: options.seed ?? generateDefaults.seed,
    asOf,
    asOfEndMs: asOfStart + dayMs,
    replication,
    dropExisting: options.dropExisting ?? false,
    concurrency: count("concurrency", options.concurrency, generateDefaults.concurrency, 1),
  };
}

async function createSchema(client: cassandra.Client, o: ResolvedOptions, onStart: () => void): Promise<void> {
  const existing = await client.execute("SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?", [o.keyspace], {
    prepare: true,
  });
  if (existing.rowLength > 0 && !o.dropExisting) {
    throw new ShrinkError("invalid-input", `keyspace ${o.keyspace} already exists; pick another name or pass --drop-existing to replace it`);
  }
  onStart();
  if (existing.rowLength > 0) await client.execute(`DROP KEYSPACE ${o.keyspace}`);
  try {
    await client.execute(`CREATE KEYSPACE ${o.keyspace} WITH replication = ${o.replication}`);
  } catch (error) {
    throw new ShrinkError("invalid-input", `cannot create keyspace ${o.keyspace}: ${(error as Error).message}`, { cause: error });
  }
  for (const statement of leadsSchemaCql(o.keyspace)) await client.execute(statement);
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
