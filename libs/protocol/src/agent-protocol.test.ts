import { describe, expect, it } from "vitest";
import {
  AgentCommand,
  agentLifecycleStates,
  decodeTunnelFrame,
  encodeTunnelFrame,
  isBackwardTransition,
  isSupportedProtocolVersion,
  minSupportedProtocolVersion,
  parseAgentFrame,
  parseControlPlaneFrame,
} from "./agent-protocol.ts";
import { protocolVersion } from "./version.ts";

const hello = {
  type: "hello",
  protocolVersion,
  agentVersion: "0.1.0",
  identity: { provider: "ec2", instanceId: "i-0abc", lifecycle: "spot", region: "eu-west-1", hostname: "ip-10-0-0-1" },
  auth: { joinToken: "jt_123" },
};

const heartbeat = {
  type: "heartbeat",
  seq: 3,
  health: {
    cassandra: { reachable: true, version: "5.0.8" },
    diskFreeBytes: 10_000,
    diskTotalBytes: 50_000,
    load1: 0.42,
    currentSnapshotId: "snap-1",
    lastRestore: { snapshotId: "snap-1", ok: true, at: "2026-11-25T10:00:00Z" },
  },
};

const assign = {
  type: "assign",
  commandId: "c1",
  assignmentId: "a1",
  idempotencyKey: "a1",
  snapshot: {
    id: "snap-1",
    manifestUrl: "https://cp.example/blobs/snapshots/snap-1/manifest.json?sig=abc",
    chunkUrlTemplate: "https://cp.example/blobs/chunks/{sha256}?sig=abc",
  },
  targetKeyspace: "shop_dev",
};

describe("agent frames", () => {
  it("parses every agent -> control plane message", () => {
    const frames = [
      hello,
      { ...hello, auth: { credential: "cred_1" }, identity: { provider: "local", hostname: "h" } },
      heartbeat,
      { type: "lifecycle", seq: 1, state: "downloading", at: "2026-11-25T10:00:00.123Z", detail: "snap-1" },
      { type: "ack", commandId: "c1" },
      { type: "progress", assignmentId: "a1", phase: "download", bytes: 5, totalBytes: 10, rows: 0, totalRows: 100, rate: 1.5 },
      { type: "result", assignmentId: "a1", snapshotId: "snap-1", ok: false, error: "chunk abc: sha256 mismatch" },
      { type: "interruption", deadline: "2026-11-25T10:02:00Z" },
    ];
    for (const frame of frames) {
      const parsed = parseAgentFrame(JSON.stringify(frame));
      expect(parsed, JSON.stringify(frame)).toEqual({ ok: true, message: frame });
    }
  });

  it("parses every control plane -> agent message", () => {
    const frames = [
      { type: "welcome", agentId: "ag_1", credential: "cred_1", heartbeatIntervalMs: 10_000 },
      { type: "welcome", agentId: "ag_1", heartbeatIntervalMs: 10_000 },
      assign,
      { ...assign, replication: { class: "NetworkTopologyStrategy", factors: { dc1: 1 } } },
      { type: "cancel", commandId: "c2", assignmentId: "a1" },
      { type: "tunnel-open", commandId: "c3", streamId: 7 },
      { type: "tunnel-close", commandId: "c4", streamId: 7 },
      { type: "goodbye", reason: "control plane shutting down", reconnectAfterMs: 2_000 },
      { type: "error", code: "malformed-frame", message: "not JSON" },
    ];
    for (const frame of frames) {
      expect(parseControlPlaneFrame(JSON.stringify(frame)), JSON.stringify(frame)).toEqual({ ok: true, message: frame });
    }
    expect(AgentCommand.safeParse(assign).success).toBe(true);
    expect(AgentCommand.safeParse({ type: "goodbye", reason: "x" }).success).toBe(false);
  });

  it("rejects text that is not JSON", () => {
    const parsed = parseAgentFrame("{not json");
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/^not JSON/);
  });

  it("rejects an unknown type", () => {
    const parsed = parseAgentFrame(JSON.stringify({ type: "shout", text: "hi" }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/^type: /);
    // a control-plane message is unknown in the agent direction
    expect(parseAgentFrame(JSON.stringify(assign)).ok).toBe(false);
  });

  it("names the field that is wrong", () => {
    const parsed = parseAgentFrame(JSON.stringify({ ...heartbeat, health: { ...heartbeat.health, diskFreeBytes: -1 } }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain("health.diskFreeBytes");
  });

  it("rejects a hello with both or neither of join token and credential", () => {
    expect(parseAgentFrame(JSON.stringify({ ...hello, auth: { joinToken: "a", credential: "b" } })).ok).toBe(false);
    expect(parseAgentFrame(JSON.stringify({ ...hello, auth: {} })).ok).toBe(false);
  });

  it("refuses cloud credentials in place of a signed chunk URL template", () => {
    const withoutPlaceholder = { ...assign, snapshot: { ...assign.snapshot, chunkUrlTemplate: "https://cp.example/chunks/" } };
    expect(parseControlPlaneFrame(JSON.stringify(withoutPlaceholder)).ok).toBe(false);
    const withKeys = { ...assign, snapshot: { ...assign.snapshot, accessKeyId: "AKIA..." } };
    // unknown keys are stripped, never passed on
    const parsed = parseControlPlaneFrame(JSON.stringify(withKeys));
    expect(parsed.ok && "accessKeyId" in (parsed.message as { snapshot: object }).snapshot).toBe(false);
  });

  it("rejects an invalid keyspace and a bad timestamp", () => {
    expect(parseControlPlaneFrame(JSON.stringify({ ...assign, targetKeyspace: "shop; drop" })).ok).toBe(false);
    expect(parseAgentFrame(JSON.stringify({ type: "interruption", deadline: "soon" })).ok).toBe(false);
  });
});

describe("protocol version negotiation", () => {
  it("accepts versions from the oldest supported to the current one", () => {
    expect(isSupportedProtocolVersion(protocolVersion)).toBe(true);
    expect(isSupportedProtocolVersion(minSupportedProtocolVersion)).toBe(true);
  });

  it("refuses a newer, an older or a fractional version", () => {
    expect(isSupportedProtocolVersion(protocolVersion + 1)).toBe(false);
    expect(isSupportedProtocolVersion(minSupportedProtocolVersion - 1)).toBe(false);
    expect(isSupportedProtocolVersion(1.5)).toBe(false);
  });

  it("still parses a hello of a newer version, so the control plane can answer with a clear error", () => {
    const parsed = parseAgentFrame(JSON.stringify({ ...hello, protocolVersion: protocolVersion + 1 }));
    expect(parsed.ok).toBe(true);
  });
});

describe("lifecycle order", () => {
  it("lists the main path first, in order", () => {
    expect(agentLifecycleStates.slice(0, 6)).toEqual(["booting", "registering", "idle", "downloading", "restoring", "ready"]);
  });

  it("calls moves forward or in place not backwards", () => {
    expect(isBackwardTransition("booting", "registering")).toBe(false);
    expect(isBackwardTransition("restoring", "ready")).toBe(false);
    expect(isBackwardTransition("ready", "draining")).toBe(false);
    expect(isBackwardTransition("ready", "ready")).toBe(false);
  });

  it("calls stale moves backwards", () => {
    expect(isBackwardTransition("ready", "registering")).toBe(true);
    expect(isBackwardTransition("restoring", "downloading")).toBe(true);
    expect(isBackwardTransition("draining", "ready")).toBe(true);
    expect(isBackwardTransition("stopped", "booting")).toBe(true);
    expect(isBackwardTransition("interrupting", "degraded")).toBe(true);
  });

  it("allows a new assignment and a recovery", () => {
    expect(isBackwardTransition("ready", "downloading")).toBe(false);
    expect(isBackwardTransition("degraded", "restoring")).toBe(false);
    expect(isBackwardTransition("degraded", "ready")).toBe(false);
    expect(isBackwardTransition("draining", "downloading")).toBe(true);
  });
});

describe("tunnel frames", () => {
  it("round-trips a stream id and its bytes", () => {
    const frame = encodeTunnelFrame(0x01020304, new Uint8Array([9, 8, 7]));
    expect([...frame]).toEqual([1, 2, 3, 4, 9, 8, 7]);
    const decoded = decodeTunnelFrame(frame);
    expect(decoded.ok && decoded.message.streamId).toBe(0x01020304);
    expect(decoded.ok && [...decoded.message.data]).toEqual([9, 8, 7]);
  });

  it("rejects a frame too short for a stream id, stream 0 and an out-of-range id", () => {
    expect(decodeTunnelFrame(new Uint8Array([1, 2])).ok).toBe(false);
    expect(decodeTunnelFrame(new Uint8Array([0, 0, 0, 0, 5])).ok).toBe(false);
    expect(() => encodeTunnelFrame(0, new Uint8Array())).toThrow(RangeError);
    expect(() => encodeTunnelFrame(2 ** 32, new Uint8Array())).toThrow(RangeError);
  });
});
