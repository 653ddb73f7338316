import { z } from "zod";
import { TransferPhase } from "./snapshot-manifest.ts";
import { protocolVersion } from "./version.ts";

/**
 * The agent <-> control-plane wire protocol: JSON text frames, one message per frame,
 * discriminated by `type`. Both sides parse every frame they receive with the schemas
 * below. Tunnel payloads travel in binary frames, prefixed by their stream id.
 *
 * Version negotiation: the agent states its `protocolVersion` in `hello`; the control
 * plane accepts any version in [minSupportedProtocolVersion, protocolVersion] and
 * otherwise answers `error` with code `unsupported-protocol-version` and closes.
 * The history of versions is in version.ts.
 */
export const minSupportedProtocolVersion = 1;

/** Whether a control plane speaking `protocolVersion` accepts an agent announcing `version`. */
export function isSupportedProtocolVersion(version: number): boolean {
  return Number.isInteger(version) && version >= minSupportedProtocolVersion && version <= protocolVersion;
}

// ---------------------------------------------------------------------------
// Agent lifecycle

/**
 * The agent's lifecycle, in order. The main path is booting → ready; `degraded` and
 * the shutdown states come after it, so an agent never goes back to `ready` from
 * `draining`. A new assignment takes a `ready` (or `degraded`) agent through
 * `downloading` again: that move is the one allowed backward step (see
 * isBackwardTransition).
 */
export const agentLifecycleStates = [
  "booting",
  "registering",
  "idle",
  "downloading",
  "restoring",
  "ready",
  "degraded",
  "interrupting",
  "draining",
  "stopped",
] as const;
export const AgentLifecycleState = z.enum(agentLifecycleStates);
export type AgentLifecycleState = z.infer<typeof AgentLifecycleState>;

/** Position of a state in the lifecycle order. */
export function lifecycleRank(state: AgentLifecycleState): number {
  return agentLifecycleStates.indexOf(state);
}

/**
 * Whether moving from `from` to `to` goes backwards in the lifecycle, so a receiver
 * should ignore it (a late or replayed frame). Staying in a state is not backwards.
 * Exceptions, because they are real new work rather than stale news:
 *  - `idle`, `ready` or `degraded` → `downloading` / `restoring` (a new assignment);
 *  - `degraded` → `ready` / `idle` (recovered);
 *  - `registering` after `stopped` is still backwards: a restarted agent says `booting`
 *    in a fresh session, and a session starts its order anew.
 */
export function isBackwardTransition(from: AgentLifecycleState, to: AgentLifecycleState): boolean {
  if (rebeginsWork(from, to) || recovers(from, to)) return false;
  return lifecycleRank(to) < lifecycleRank(from);
}

function rebeginsWork(from: AgentLifecycleState, to: AgentLifecycleState): boolean {
  const settled = from === "idle" || from === "ready" || from === "degraded";
  return settled && (to === "downloading" || to === "restoring");
}

function recovers(from: AgentLifecycleState, to: AgentLifecycleState): boolean {
  return from === "degraded" && (to === "ready" || to === "idle");
}

// ---------------------------------------------------------------------------
// Shared pieces

const Id = z.string().min(1).max(200);
const Count = z.number().int().min(0);
const Timestamp = z.iso.datetime();
/** Message sequence numbers let the receiver drop stale or duplicated frames. */
const Seq = z.number().int().min(0);

export const AgentIdentity = z.object({
  /** The cloud instance id (e.g. `i-0abc…`); absent on hosts that have none. */
  instanceId: z.string().min(1).max(100).optional(),
  provider: z.enum(["local", "ec2", "static"]),
  instanceType: z.string().min(1).max(100).optional(),
  region: z.string().min(1).max(100).optional(),
  zone: z.string().min(1).max(100).optional(),
  lifecycle: z.enum(["spot", "on-demand"]).optional(),
  hostname: z.string().min(1).max(255),
});
export type AgentIdentity = z.infer<typeof AgentIdentity>;

/** First contact uses the single-use join token; every later session the credential it was exchanged for. */
export const AgentAuth = z.union([
  z.strictObject({ joinToken: z.string().min(1).max(500) }),
  z.strictObject({ credential: z.string().min(1).max(500) }),
]);
export type AgentAuth = z.infer<typeof AgentAuth>;

export const LastRestore = z.object({
  snapshotId: Id,
  ok: z.boolean(),
  at: Timestamp,
  error: z.string().max(2000).optional(),
});
export type LastRestore = z.infer<typeof LastRestore>;

export const AgentHealth = z.object({
  cassandra: z.object({ reachable: z.boolean(), version: z.string().max(100).optional() }),
  diskFreeBytes: Count,
  diskTotalBytes: Count,
  /** One-minute load average. */
  load1: z.number().min(0),
  currentSnapshotId: Id.optional(),
  lastRestore: LastRestore.optional(),
  /** CQL requests served since the agent started, when the agent can tell. */
  cqlRequests: Count.optional(),
  clientConnections: Count.optional(),
});
export type AgentHealth = z.infer<typeof AgentHealth>;

// ---------------------------------------------------------------------------
// Agent -> control plane

export const HelloMessage = z.object({
  type: z.literal("hello"),
  protocolVersion: z.number().int().min(1),
  agentVersion: z.string().min(1).max(100),
  identity: AgentIdentity,
  auth: AgentAuth,
});
export type HelloMessage = z.infer<typeof HelloMessage>;

export const HeartbeatMessage = z.object({
  type: z.literal("heartbeat"),
  seq: Seq,
  health: AgentHealth,
});
export type HeartbeatMessage = z.infer<typeof HeartbeatMessage>;

export const LifecycleMessage = z.object({
  type: z.literal("lifecycle"),
  seq: Seq,
  state: AgentLifecycleState,
  at: Timestamp,
  detail: z.string().max(2000).optional(),
});
export type LifecycleMessage = z.infer<typeof LifecycleMessage>;

export const AckMessage = z.object({
  type: z.literal("ack"),
  commandId: Id,
});
export type AckMessage = z.infer<typeof AckMessage>;

/** Restore progress: the TransferProgress phases, flattened to what the control plane shows. */
export const ProgressMessage = z.object({
  type: z.literal("progress"),
  assignmentId: Id,
  phase: TransferPhase,
  bytes: Count,
  totalBytes: Count,
  rows: Count,
  totalRows: Count,
  /** Bytes per second over the recent past. */
  rate: z.number().min(0).optional(),
  etaSeconds: z.number().min(0).optional(),
});
export type ProgressMessage = z.infer<typeof ProgressMessage>;

export const ResultMessage = z.object({
  type: z.literal("result"),
  assignmentId: Id,
  snapshotId: Id,
  ok: z.boolean(),
  error: z.string().max(4000).optional(),
});
export type ResultMessage = z.infer<typeof ResultMessage>;

/** A spot interruption notice: the host goes away at `deadline`. */
export const InterruptionMessage = z.object({
  type: z.literal("interruption"),
  deadline: Timestamp,
});
export type InterruptionMessage = z.infer<typeof InterruptionMessage>;

export const AgentToControlPlane = z.discriminatedUnion("type", [
  HelloMessage,
  HeartbeatMessage,
  LifecycleMessage,
  AckMessage,
  ProgressMessage,
  ResultMessage,
  InterruptionMessage,
]);
export type AgentToControlPlane = z.infer<typeof AgentToControlPlane>;

// ---------------------------------------------------------------------------
// Control plane -> agent

export const WelcomeMessage = z.object({
  type: z.literal("welcome"),
  agentId: Id,
  /** Sent once, when a join token was exchanged; the agent stores it and uses it from then on. */
  credential: z.string().min(1).max(500).optional(),
  heartbeatIntervalMs: z.number().int().min(100).max(3_600_000),
});
export type WelcomeMessage = z.infer<typeof WelcomeMessage>;

/**
 * Where the agent reads a snapshot: signed, expiring URLs only, never cloud credentials,
 * so hosts without any AWS access can restore.
 */
export const SnapshotLocation = z.object({
  id: Id,
  manifestUrl: z.url(),
  /** A URL containing `{sha256}`, replaced by a chunk's hash to read that chunk. */
  chunkUrlTemplate: z.url().refine((url) => url.includes("{sha256}"), "must contain {sha256}"),
});
export type SnapshotLocation = z.infer<typeof SnapshotLocation>;

export const Replication = z.object({
  class: z.enum(["SimpleStrategy", "NetworkTopologyStrategy"]),
  /** SimpleStrategy: `{ replication_factor: n }`; NetworkTopologyStrategy: factor per data centre. */
  factors: z.record(z.string().min(1), z.number().int().min(1)),
});
export type Replication = z.infer<typeof Replication>;

const Keyspace = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_]{0,47}$/, "a Cassandra keyspace name");

export const AssignMessage = z.object({
  type: z.literal("assign"),
  commandId: Id,
  assignmentId: Id,
  /** The agent performs an assignment once per key, however often the command is delivered. */
  idempotencyKey: Id,
  snapshot: SnapshotLocation,
  targetKeyspace: Keyspace,
  replication: Replication.optional(),
});
export type AssignMessage = z.infer<typeof AssignMessage>;

export const CancelMessage = z.object({
  type: z.literal("cancel"),
  commandId: Id,
  assignmentId: Id,
});
export type CancelMessage = z.infer<typeof CancelMessage>;

const StreamId = z.number().int().min(1).max(0xffff_ffff);

export const TunnelOpenMessage = z.object({
  type: z.literal("tunnel-open"),
  commandId: Id,
  streamId: StreamId,
});
export type TunnelOpenMessage = z.infer<typeof TunnelOpenMessage>;

export const TunnelCloseMessage = z.object({
  type: z.literal("tunnel-close"),
  commandId: Id,
  streamId: StreamId,
});
export type TunnelCloseMessage = z.infer<typeof TunnelCloseMessage>;

export const GoodbyeMessage = z.object({
  type: z.literal("goodbye"),
  reason: z.string().min(1).max(500),
  /** When set, reconnect no sooner than this; absent: do not reconnect on your own. */
  reconnectAfterMs: z.number().int().min(0).optional(),
});
export type GoodbyeMessage = z.infer<typeof GoodbyeMessage>;

export const protocolErrorCodes = [
  "malformed-frame",
  "hello-required",
  "hello-timeout",
  "unsupported-protocol-version",
  "unauthorized",
  "duplicate-session",
  "internal",
] as const;
export const ProtocolErrorCode = z.enum(protocolErrorCodes);
export type ProtocolErrorCode = z.infer<typeof ProtocolErrorCode>;

export const ErrorMessage = z.object({
  type: z.literal("error"),
  code: ProtocolErrorCode,
  message: z.string().min(1).max(2000),
});
export type ErrorMessage = z.infer<typeof ErrorMessage>;

export const ControlPlaneToAgent = z.discriminatedUnion("type", [
  WelcomeMessage,
  AssignMessage,
  CancelMessage,
  TunnelOpenMessage,
  TunnelCloseMessage,
  GoodbyeMessage,
  ErrorMessage,
]);
export type ControlPlaneToAgent = z.infer<typeof ControlPlaneToAgent>;

/** Commands are the control-plane messages that carry a `commandId` and are acknowledged. */
export const AgentCommand = z.discriminatedUnion("type", [AssignMessage, CancelMessage, TunnelOpenMessage, TunnelCloseMessage]);
export type AgentCommand = z.infer<typeof AgentCommand>;

// ---------------------------------------------------------------------------
// Frame parsing

export type FrameParse<T> = { ok: true; message: T } | { ok: false; error: string };

/**
 * Parses one text frame: JSON first, then the schema. The error names what was wrong
 * (bad JSON, unknown type, which field), short enough to send back in an `error` frame.
 */
export function parseFrame<T>(schema: z.ZodType<T>, text: string): FrameParse<T> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  return { ok: false, error: describeIssues(parsed.error) };
}

export function parseAgentFrame(text: string): FrameParse<AgentToControlPlane> {
  return parseFrame(AgentToControlPlane, text);
}

export function parseControlPlaneFrame(text: string): FrameParse<ControlPlaneToAgent> {
  return parseFrame(ControlPlaneToAgent, text);
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(frame)"}: ${issue.message}`)
    .join("; ");
}

// ---------------------------------------------------------------------------
// Tunnel data: binary frames

/** A binary frame is a 4-byte big-endian stream id (from tunnel-open) followed by the stream's bytes. */
export const tunnelFrameHeaderBytes = 4;

export function encodeTunnelFrame(streamId: number, data: Uint8Array): Uint8Array {
  if (!Number.isInteger(streamId) || streamId < 1 || streamId > 0xffff_ffff) {
    throw new RangeError(`tunnel stream id must be an integer from 1 to 2^32-1, got ${streamId}`);
  }
  const frame = new Uint8Array(tunnelFrameHeaderBytes + data.byteLength);
  new DataView(frame.buffer).setUint32(0, streamId);
  frame.set(data, tunnelFrameHeaderBytes);
  return frame;
}

export function decodeTunnelFrame(frame: Uint8Array): FrameParse<{ streamId: number; data: Uint8Array }> {
  if (frame.byteLength < tunnelFrameHeaderBytes) {
    return { ok: false, error: `a binary frame starts with a ${tunnelFrameHeaderBytes}-byte stream id; got ${frame.byteLength} bytes` };
  }
  const streamId = new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(0);
  if (streamId === 0) return { ok: false, error: "tunnel stream id 0 is reserved" };
  return { ok: true, message: { streamId, data: frame.subarray(tunnelFrameHeaderBytes) } };
}
