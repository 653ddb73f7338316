import type { AssignmentState, InstanceKind, InstanceState, JobKind, JobState, LogLevel, ProvisionerKind, SnapshotStatus, UserRole } from "@devenv/protocol";

/**
 * The records the store hands out. Times are ISO 8601 UTC strings as produced by
 * `Date.prototype.toISOString()` (e.g. "2026-05-01T10:00:00.000Z"): the same text in
 * both dialects, sortable as text, and JSON-ready for the API. Inputs that are times
 * accept a Date or any string `new Date()` parses; the store normalises them.
 */
export type IsoTime = string;
export type TimeInput = Date | string;

/** JSON the store keeps verbatim (payloads, health, identity, results). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

// The enums of roles, kinds and states are libs/protocol's (the API and the agents speak
// them); the store re-exports them so that its users need one import for a record and its
// states. Instance states are ordered: the allowed moves are in instance-lifecycle.ts.
export {
  assignmentStates,
  instanceKinds,
  instanceStates,
  jobKinds,
  jobStates,
  logLevels,
  provisionerKinds,
  snapshotStatuses,
  userRoles,
} from "@devenv/protocol";
export type { AssignmentState, InstanceKind, InstanceState, JobKind, JobState, LogLevel, ProvisionerKind, SnapshotStatus, UserRole };

export interface User {
  id: string;
  name: string;
  role: UserRole;
  slackUserId: string | null;
  createdAt: IsoTime;
}

export interface ApiToken {
  id: string;
  userId: string;
  /** A label the owner chose ("laptop", "ci"). */
  name: string;
  /** The first characters of the plaintext, enough to recognise a token in a list. */
  prefix: string;
  createdAt: IsoTime;
  expiresAt: IsoTime | null;
  lastUsedAt: IsoTime | null;
  revokedAt: IsoTime | null;
}

export interface Snapshot {
  id: string;
  /** Where the snapshot lives: a local dir or s3://bucket/prefix/snapshots/<id>. */
  location: string;
  createdAt: IsoTime;
  sizeBytes: number;
  rows: number;
  tablesCount: number;
  /** Human words on where it came from ("nightly from backup 2026-05-01", "keyspace shop"). */
  sourceDescription: string;
  /** sha256 of the shrink rules used, null when the snapshot was not shrunk. */
  rulesDigest: string | null;
  pinned: boolean;
  status: SnapshotStatus;
}

export interface Instance {
  id: string;
  ownerId: string;
  kind: InstanceKind;
  provisioner: ProvisionerKind;
  state: InstanceState;
  /** Why the instance is in its state (the error of a failed one), null when nothing to say. */
  stateDetail: string | null;
  createdAt: IsoTime;
  /** Set on every change. */
  updatedAt: IsoTime;
  ttlExpiresAt: IsoTime | null;
  /** The snapshot the instance should hold (target of the latest assignment). */
  snapshotId: string | null;
  /** The snapshot the instance holds now (last successful restore). */
  currentSnapshotId: string | null;
  hostAddress: string | null;
  hostPort: number | null;
  /** The provider's id of the host, e.g. an EC2 instance id or a local pid tag. */
  providerId: string | null;
  lastActivityAt: IsoTime | null;
}

export interface Agent {
  id: string;
  instanceId: string;
  identity: JsonObject;
  version: string;
  /** The agent's own lifecycle as it last reported it (libs/protocol's agent states). */
  state: string;
  revoked: boolean;
  createdAt: IsoTime;
  lastHeartbeatAt: IsoTime | null;
  health: JsonObject | null;
}

export interface JoinToken {
  id: string;
  instanceId: string;
  createdAt: IsoTime;
  expiresAt: IsoTime;
  usedAt: IsoTime | null;
}

export interface AgentCommand {
  id: string;
  agentId: string;
  /** Position in the agent's outbox; pending commands come back in this order. */
  seq: number;
  type: string;
  payload: JsonValue;
  idempotencyKey: string;
  createdAt: IsoTime;
  deliveredAt: IsoTime | null;
  ackedAt: IsoTime | null;
  result: JsonValue | null;
}

export interface Assignment {
  id: string;
  instanceId: string;
  snapshotId: string;
  state: AssignmentState;
  progress: JsonObject | null;
  error: string | null;
  createdAt: IsoTime;
  updatedAt: IsoTime;
}

export interface Job {
  id: string;
  kind: JobKind;
  payload: JsonValue;
  state: JobState;
  /** How many times a runner leased it (the current run included). */
  attempts: number;
  maxAttempts: number;
  leaseOwner: string | null;
  leaseExpiresAt: IsoTime | null;
  parentId: string | null;
  /** Not leasable before this time (retry back-off, delayed start). */
  runAfter: IsoTime;
  createdAt: IsoTime;
  startedAt: IsoTime | null;
  finishedAt: IsoTime | null;
  result: JsonValue | null;
  /** The last failure's message, kept when a retry later succeeds. */
  error: string | null;
}

export interface JobLogLine {
  jobId: string;
  /** Increases with every line appended (across all jobs); use it to follow a log. */
  seq: number;
  at: IsoTime;
  level: LogLevel;
  line: string;
}

export interface Schedule {
  id: string;
  name: string;
  /** A cron expression; the store keeps it, the scheduler interprets it. */
  cron: string;
  /** IANA zone the cron expression is read in, e.g. "Europe/Berlin". */
  timezone: string;
  kind: JobKind;
  payload: JsonValue;
  enabled: boolean;
  lastRunAt: IsoTime | null;
  nextRunAt: IsoTime | null;
}

export interface AuditEvent {
  /** Increases with every event recorded. */
  seq: number;
  at: IsoTime;
  /** Who did it: a user id, "agent:<id>", "system". */
  actor: string;
  /** What was done, dotted: "snapshot.delete", "token.create". */
  action: string;
  /** What it was done to, e.g. "snapshot:<id>". */
  subject: string;
  detail: JsonObject | null;
}
