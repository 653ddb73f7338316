import { z } from "zod";
import { AgentHealth } from "../agent-protocol.ts";

/**
 * What the API returns: the catalogue's records as callers see them. Times are ISO 8601
 * UTC strings. Secrets (token hashes, join tokens, agent credentials) never appear.
 */
const IsoTime = z.string();
const Id = z.string().min(1).max(200);

export const userRoles = ["developer", "ops", "admin"] as const;
export const UserRole = z.enum(userRoles);
export type UserRole = z.infer<typeof UserRole>;

export const UserView = z.object({
  id: Id,
  name: z.string(),
  role: UserRole,
  slackUserId: z.string().nullable(),
  createdAt: IsoTime,
});
export type UserView = z.infer<typeof UserView>;

export const TokenView = z.object({
  id: Id,
  userId: Id,
  name: z.string(),
  /** The first characters of the secret: enough to recognise it, useless to replay. */
  prefix: z.string(),
  createdAt: IsoTime,
  expiresAt: IsoTime.nullable(),
  lastUsedAt: IsoTime.nullable(),
  revokedAt: IsoTime.nullable(),
});
export type TokenView = z.infer<typeof TokenView>;

export const snapshotStatuses = ["building", "ready", "failed", "deleted"] as const;
export const SnapshotStatus = z.enum(snapshotStatuses);
export type SnapshotStatus = z.infer<typeof SnapshotStatus>;

export const SnapshotView = z.object({
  id: Id,
  location: z.string(),
  createdAt: IsoTime,
  sizeBytes: z.number().int().min(0),
  rows: z.number().int().min(0),
  tablesCount: z.number().int().min(0),
  sourceDescription: z.string(),
  rulesDigest: z.string().nullable(),
  pinned: z.boolean(),
  status: SnapshotStatus,
});
export type SnapshotView = z.infer<typeof SnapshotView>;

export const instanceStates = ["requested", "provisioning", "registering", "restoring", "ready", "refreshing", "draining", "terminated", "failed"] as const;
export const InstanceState = z.enum(instanceStates);
export type InstanceState = z.infer<typeof InstanceState>;

export const instanceKinds = ["personal", "shared"] as const;
export const InstanceKind = z.enum(instanceKinds);
export type InstanceKind = z.infer<typeof InstanceKind>;

export const provisionerKinds = ["local", "ec2", "static"] as const;
export const ProvisionerKind = z.enum(provisionerKinds);
export type ProvisionerKind = z.infer<typeof ProvisionerKind>;

export const InstanceView = z.object({
  id: Id,
  ownerId: Id,
  kind: InstanceKind,
  provisioner: ProvisionerKind,
  state: InstanceState,
  stateDetail: z.string().nullable(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
  ttlExpiresAt: IsoTime.nullable(),
  snapshotId: z.string().nullable(),
  currentSnapshotId: z.string().nullable(),
  hostAddress: z.string().nullable(),
  hostPort: z.number().int().nullable(),
  providerId: z.string().nullable(),
  lastActivityAt: IsoTime.nullable(),
});
export type InstanceView = z.infer<typeof InstanceView>;

export const assignmentStates = ["pending", "sent", "running", "succeeded", "failed", "cancelled"] as const;
export const AssignmentState = z.enum(assignmentStates);
export type AssignmentState = z.infer<typeof AssignmentState>;

/** Restore progress as the agent last reported it (see ProgressMessage). */
export const RestoreProgressView = z.object({
  phase: z.string(),
  bytes: z.number().min(0),
  totalBytes: z.number().min(0),
  rows: z.number().min(0),
  totalRows: z.number().min(0),
  rate: z.number().min(0).optional(),
  etaSeconds: z.number().min(0).optional(),
});
export type RestoreProgressView = z.infer<typeof RestoreProgressView>;

export const AssignmentView = z.object({
  id: Id,
  instanceId: Id,
  snapshotId: Id,
  state: AssignmentState,
  progress: RestoreProgressView.nullable(),
  error: z.string().nullable(),
  createdAt: IsoTime,
  updatedAt: IsoTime,
});
export type AssignmentView = z.infer<typeof AssignmentView>;

export const AgentView = z.object({
  id: Id,
  instanceId: Id,
  version: z.string(),
  /** The agent's lifecycle state as it last reported it. */
  state: z.string(),
  /** healthy / unhealthy / lost as the hub judges heartbeats; unknown when no hub watches it. */
  liveness: z.enum(["healthy", "unhealthy", "lost", "unknown"]),
  revoked: z.boolean(),
  createdAt: IsoTime,
  lastHeartbeatAt: IsoTime.nullable(),
  health: AgentHealth.nullable(),
  hostname: z.string().nullable(),
});
export type AgentView = z.infer<typeof AgentView>;

export const jobKinds = ["shrink", "refresh", "shrink-task"] as const;
export const JobKind = z.enum(jobKinds);
export type JobKind = z.infer<typeof JobKind>;
export const jobStates = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
export const JobState = z.enum(jobStates);
export type JobState = z.infer<typeof JobState>;

/** Any JSON value (payloads and results are checked by their job's own schema). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export const JsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonValue), z.record(z.string(), JsonValue)]),
);

export const JobView = z.object({
  id: Id,
  kind: JobKind,
  payload: JsonValue,
  state: JobState,
  attempts: z.number().int().min(0),
  maxAttempts: z.number().int().min(1),
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: IsoTime.nullable(),
  parentId: z.string().nullable(),
  runAfter: IsoTime,
  createdAt: IsoTime,
  startedAt: IsoTime.nullable(),
  finishedAt: IsoTime.nullable(),
  result: JsonValue.nullable(),
  error: z.string().nullable(),
});
export type JobView = z.infer<typeof JobView>;

export const logLevels = ["debug", "info", "warn", "error"] as const;
export const LogLevel = z.enum(logLevels);
export type LogLevel = z.infer<typeof LogLevel>;

export const JobLogLineView = z.object({
  seq: z.number().int(),
  at: IsoTime,
  level: LogLevel,
  line: z.string(),
});
export type JobLogLineView = z.infer<typeof JobLogLineView>;

export const ScheduleView = z.object({
  id: Id,
  name: z.string(),
  cron: z.string(),
  timezone: z.string(),
  kind: JobKind,
  payload: JsonValue,
  enabled: z.boolean(),
  lastRunAt: IsoTime.nullable(),
  nextRunAt: IsoTime.nullable(),
});
export type ScheduleView = z.infer<typeof ScheduleView>;
