import type { Generated, Kysely, Transaction } from "kysely";

/**
 * The tables as Kysely sees them. Portable column types only: text, integer, bigint.
 * Times are ISO text, booleans 0/1 integers, JSON text; the repositories convert.
 */
export interface Database {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  snapshots: SnapshotsTable;
  instances: InstancesTable;
  agents: AgentsTable;
  join_tokens: JoinTokensTable;
  agent_commands: AgentCommandsTable;
  assignments: AssignmentsTable;
  jobs: JobsTable;
  job_logs: JobLogsTable;
  schedules: SchedulesTable;
  audit_events: AuditEventsTable;
}

export interface UsersTable {
  id: string;
  name: string;
  role: string;
  slack_user_id: string | null;
  created_at: string;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  token_hash: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface SnapshotsTable {
  id: string;
  location: string;
  created_at: string;
  size_bytes: number;
  rows: number;
  tables_count: number;
  source_description: string;
  rules_digest: string | null;
  pinned: number;
  status: string;
}

export interface InstancesTable {
  id: string;
  owner_id: string;
  kind: string;
  provisioner: string;
  state: string;
  state_detail: string | null;
  created_at: string;
  updated_at: string;
  ttl_expires_at: string | null;
  snapshot_id: string | null;
  current_snapshot_id: string | null;
  host_address: string | null;
  host_port: number | null;
  provider_id: string | null;
  last_activity_at: string | null;
}

export interface AgentsTable {
  id: string;
  instance_id: string;
  identity: string;
  version: string;
  credential_hash: string;
  revoked: number;
  state: string;
  created_at: string;
  last_heartbeat_at: string | null;
  health: string | null;
}

export interface JoinTokensTable {
  id: string;
  token_hash: string;
  instance_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface AgentCommandsTable {
  seq: Generated<number>;
  id: string;
  agent_id: string;
  type: string;
  payload: string;
  idempotency_key: string;
  created_at: string;
  delivered_at: string | null;
  acked_at: string | null;
  result: string | null;
}

export interface AssignmentsTable {
  seq: Generated<number>;
  id: string;
  instance_id: string;
  snapshot_id: string;
  state: string;
  progress: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

export interface JobsTable {
  seq: Generated<number>;
  id: string;
  kind: string;
  payload: string;
  state: string;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_expires_at: string | null;
  parent_id: string | null;
  run_after: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  result: string | null;
  error: string | null;
}

export interface JobLogsTable {
  seq: Generated<number>;
  job_id: string;
  at: string;
  level: string;
  line: string;
}

export interface SchedulesTable {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  kind: string;
  payload: string;
  enabled: number;
  last_run_at: string | null;
  next_run_at: string | null;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  at: string;
  actor: string;
  action: string;
  subject: string;
  detail: string | null;
}

/** The root Kysely instance or a transaction: repositories work on either. */
export type Executor = Kysely<Database> | Transaction<Database>;
