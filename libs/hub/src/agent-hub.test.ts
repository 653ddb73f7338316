import { afterEach, describe, expect, it } from "vitest";
import type { AssignMessage } from "@devenv/protocol";
import { protocolVersion } from "@devenv/protocol";
import { hubCloseCodes } from "./agent-hub.ts";
import { LocalCommandBus } from "./command-bus.ts";
import type { AgentCommandDraft } from "./hub-backend.ts";
import { nextEvent, startTestHub } from "./testing/hub-fixture.ts";
import type { RunningHub } from "./testing/hub-fixture.ts";
import { TestAgent, TestAgentRefusedError } from "./testing/test-agent.ts";

const running: RunningHub[] = [];
const agents: TestAgent[] = [];

async function hub(options: Parameters<typeof startTestHub>[0] = {}): Promise<RunningHub> {
  const started = await startTestHub(options);
  running.push(started);
  return started;
}

async function connect(url: string, auth: { joinToken: string } | { credential: string }, extra: { autoAck?: boolean } = {}): Promise<TestAgent> {
  const agent = await TestAgent.connect({ url, auth, ...extra });
  agents.push(agent);
  return agent;
}

/** Registers an agent with a join token and returns its credential. */
async function register(h: RunningHub, agentId: string): Promise<string> {
  const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken(agentId) });
  const credential = agent.welcome?.credential;
  if (!credential) throw new Error("no credential in welcome");
  await agent.close();
  return credential;
}

/** The refusal a connect attempt ends in; fails the test when the hub welcomed it instead. */
async function refusalOf(attempt: Promise<TestAgent>): Promise<TestAgentRefusedError> {
  const outcome = await attempt.then(
    (agent) => {
      agents.push(agent);
      return new Error(`expected a refusal, got welcome for ${agent.agentId}`);
    },
    (error: unknown) => error,
  );
  if (outcome instanceof TestAgentRefusedError) return outcome;
  throw outcome;
}

function assign(n: number): AgentCommandDraft {
  return {
    type: "assign",
    assignmentId: `as-${n}`,
    idempotencyKey: `as-${n}`,
    snapshot: {
      id: `snap-${n}`,
      manifestUrl: `https://cp.example/snapshots/snap-${n}/manifest.json?sig=x`,
      chunkUrlTemplate: "https://cp.example/chunks/{sha256}?sig=x",
    },
    targetKeyspace: "shop_dev",
  };
}

afterEach(async () => {
  for (const agent of agents.splice(0)) {
    expect(agent.invalidFrames, "frames from the hub that break the protocol").toEqual([]);
    agent.terminate();
  }
  await Promise.all(running.splice(0).map((h) => h.stop()));
});

describe("hello and welcome", () => {
  it("exchanges a join token for a credential once, then welcomes the credential", async () => {
    const h = await hub({ heartbeatIntervalMs: 7_000 });
    const connected = nextEvent(h.hub, "agent-connected");
    const first = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    expect(first.welcome).toMatchObject({ agentId: "agent-1", heartbeatIntervalMs: 7_000 });
    expect(first.welcome?.credential).toMatch(/^ac_/);
    expect((await connected).agentId).toBe("agent-1");
    await first.close();

    const again = await connect(h.url, { credential: first.welcome?.credential ?? "" });
    expect(again.welcome).toEqual({ type: "welcome", agentId: "agent-1", heartbeatIntervalMs: 7_000 });
  });

  it("refuses a used join token, an unknown credential and a revoked one", async () => {
    const h = await hub();
    const token = h.backend.issueJoinToken("agent-1");
    const credential = (await connect(h.url, { joinToken: token })).welcome?.credential ?? "";

    const refusal = (auth: { joinToken: string } | { credential: string }) => refusalOf(TestAgent.connect({ url: h.url, auth }));
    const reused = await refusal({ joinToken: token });
    expect(reused.error).toMatchObject({ code: "unauthorized", message: "this join token was already used" });
    expect(reused.close?.code).toBe(hubCloseCodes.unauthorized);
    expect((await refusal({ credential: "ac_nope" })).error?.message).toBe("unknown agent credential");
    h.backend.revokeCredentials("agent-1");
    expect((await refusal({ credential })).error?.message).toBe("this agent credential was revoked");
  });

  it("refuses an expired join token", async () => {
    const h = await hub();
    const token = h.backend.issueJoinToken("agent-1", { ttlMs: 60_000 });
    h.clock.advance(60_000);
    const refused = await refusalOf(TestAgent.connect({ url: h.url, auth: { joinToken: token } }));
    expect(refused.error).toMatchObject({ code: "unauthorized", message: "this join token has expired" });
  });

  it("refuses a join token bound to another instance", async () => {
    const h = await hub();
    const token = h.backend.issueJoinToken("agent-1", { instanceId: "i-0aaa" });
    const refused = await refusalOf(TestAgent.connect({ url: h.url, auth: { joinToken: token }, identity: { provider: "ec2", instanceId: "i-0bbb" } }));
    expect(refused.error?.message).toBe("this join token belongs to another instance");
    // the refusal did not use the token up
    const accepted = await TestAgent.connect({ url: h.url, auth: { joinToken: token }, identity: { provider: "ec2", instanceId: "i-0aaa" } });
    agents.push(accepted);
    expect(accepted.welcome?.agentId).toBe("agent-1");
  });

  it("refuses an unsupported protocol version with a clear message", async () => {
    const h = await hub();
    const refused = await refusalOf(TestAgent.connect({ url: h.url, auth: { credential: "whatever" }, protocolVersion: protocolVersion + 1 }));
    expect(refused.error?.code).toBe("unsupported-protocol-version");
    expect(refused.error?.message).toContain(`protocol version ${protocolVersion + 1} is not supported`);
    expect(refused.close?.code).toBe(hubCloseCodes.unsupportedProtocolVersion);
  });

  it("closes a socket that sends something else before hello", async () => {
    const h = await hub();
    const stranger = await TestAgent.open({ url: h.url, auth: { credential: "x" } });
    agents.push(stranger);
    stranger.heartbeat();
    expect(await stranger.waitFor((m) => m.type === "error")).toMatchObject({ code: "hello-required" });
    expect((await stranger.closed).code).toBe(hubCloseCodes.policyViolation);
  });

  it("closes a socket that does not say hello before the deadline", async () => {
    const h = await hub({ helloDeadlineMs: 5_000 });
    const silent = await TestAgent.open({ url: h.url, auth: { credential: "x" } });
    agents.push(silent);
    h.clock.advance(4_999);
    expect(silent.socket.readyState).toBe(silent.socket.OPEN);
    h.clock.advance(1);
    expect(await silent.waitFor((m) => m.type === "error")).toMatchObject({ code: "hello-timeout" });
    expect((await silent.closed).code).toBe(hubCloseCodes.policyViolation);
  });

  it("closes the older socket when the same agent connects again", async () => {
    const h = await hub();
    const credential = await register(h, "agent-1");
    const older = await connect(h.url, { credential });
    const newer = await connect(h.url, { credential });
    expect((await older.closed).code).toBe(hubCloseCodes.replaced);
    expect(newer.socket.readyState).toBe(newer.socket.OPEN);
    expect(h.hub.connectedAgents()).toEqual(["agent-1"]);
  });
});

describe("malformed frames", () => {
  it("answers each with an error frame and closes after repeated abuse", async () => {
    const h = await hub({ malformedFramesBeforeClose: 3 });
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    agent.sendRaw("{not json");
    expect(await agent.waitFor((m) => m.type === "error")).toMatchObject({ code: "malformed-frame", message: expect.stringMatching(/^not JSON/) });
    agent.sendRaw(JSON.stringify({ type: "shout" }));
    agent.sendRaw(JSON.stringify({ type: "heartbeat", seq: -1, health: {} }));
    const errors = () => agent.received.filter((m) => m.type === "error");
    await agent.closed;
    expect(errors().map((e) => e.type === "error" && e.message)).toEqual([
      expect.stringMatching(/^not JSON/),
      expect.stringMatching(/^type: /),
      expect.stringMatching(/^closing after 3 malformed frames; last: seq: /),
    ]);
    expect((await agent.closed).code).toBe(hubCloseCodes.policyViolation);
  });

  it("keeps a socket open after a single bad frame and goes on serving it", async () => {
    const h = await hub();
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    agent.sendRaw(Buffer.from([1])); // a binary frame too short to name a tunnel stream
    expect(await agent.waitFor((m) => m.type === "error")).toMatchObject({ code: "malformed-frame" });
    const health = nextEvent(h.hub, "agent-health");
    agent.heartbeat();
    expect((await health).agentId).toBe("agent-1");
  });
});

describe("tunnel data", () => {
  it("passes binary frames both ways with their stream id", async () => {
    const h = await hub();
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    const fromAgent = nextEvent(h.hub, "tunnel-data");
    agent.sendTunnelData(7, new Uint8Array([1, 2, 3]));
    const event = await fromAgent;
    expect({ ...event, data: [...event.data] }).toEqual({ agentId: "agent-1", streamId: 7, data: [1, 2, 3] });

    const toAgent = new Promise<Buffer>((resolve) => agent.socket.once("message", (data) => resolve(data as Buffer)));
    expect(h.hub.sendTunnelData("agent-1", 7, new Uint8Array([4, 5]))).toBe(true);
    expect([...(await toAgent)]).toEqual([0, 0, 0, 7, 4, 5]);
    expect(h.hub.sendTunnelData("agent-2", 7, new Uint8Array([4, 5]))).toBe(false);
  });
});

describe("lifecycle", () => {
  it("records transitions in order and ignores backward and stale ones", async () => {
    const h = await hub();
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    const seen: string[] = [];
    h.hub.on("agent-lifecycle", (e) => seen.push(`${e.previous ?? "-"}>${e.state}`));
    const readyEvent = nextEvent(h.hub, "agent-lifecycle", (e) => e.state === "ready");

    agent.lifecycle("booting");
    agent.lifecycle("registering");
    agent.lifecycle("idle");
    agent.lifecycle("downloading");
    agent.lifecycle("registering"); // backwards: ignored
    agent.lifecycle("idle", { seq: 2 }); // stale sequence number: ignored
    agent.lifecycle("restoring");
    agent.lifecycle("downloading"); // backwards within a restore: ignored
    agent.lifecycle("ready");
    await readyEvent;

    expect(seen).toEqual(["->booting", "booting>registering", "registering>idle", "idle>downloading", "downloading>restoring", "restoring>ready"]);
    expect(h.backend.agents.get("agent-1")?.lifecycle.map((l) => l.state)).toEqual([
      "booting",
      "registering",
      "idle",
      "downloading",
      "restoring",
      "ready",
    ]);

    // a new assignment takes a ready agent through downloading again
    const again = nextEvent(h.hub, "agent-lifecycle", (e) => e.state === "downloading");
    agent.lifecycle("downloading");
    expect((await again).previous).toBe("ready");
  });
});

describe("heartbeats", () => {
  it("marks a silent agent unhealthy, healthy again on a heartbeat, then lost, and cuts its socket", async () => {
    const h = await hub({ heartbeatIntervalMs: 1_000, unhealthyAfterMissedHeartbeats: 3, lostAfterMissedHeartbeats: 6 });
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    const changes: string[] = [];
    h.hub.on("agent-liveness", (e) => changes.push(`${e.previous}>${e.liveness}`));

    h.clock.advance(2_000);
    expect(h.hub.liveness("agent-1")).toBe("healthy");
    h.clock.advance(1_000);
    expect(h.hub.liveness("agent-1")).toBe("unhealthy");

    const healthy = nextEvent(h.hub, "agent-liveness", (e) => e.liveness === "healthy");
    agent.heartbeat();
    await healthy;
    expect(h.backend.agents.get("agent-1")?.lastHeartbeat?.seq).toBe(1);

    const disconnected = nextEvent(h.hub, "agent-disconnected");
    h.clock.advance(6_000);
    expect(h.hub.liveness("agent-1")).toBeUndefined(); // no longer watched
    expect((await disconnected).agentId).toBe("agent-1");
    expect(changes).toEqual(["healthy>unhealthy", "unhealthy>healthy", "healthy>unhealthy", "unhealthy>lost"]);
    expect(h.backend.agents.get("agent-1")?.liveness).toBe("lost");
    await agent.closed;
  });

  it("keeps watching a disconnected agent until it is lost", async () => {
    const h = await hub({ heartbeatIntervalMs: 1_000, unhealthyAfterMissedHeartbeats: 2, lostAfterMissedHeartbeats: 4 });
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    const disconnected = nextEvent(h.hub, "agent-disconnected");
    await agent.close();
    await disconnected;
    h.clock.advance(2_000);
    expect(h.hub.liveness("agent-1")).toBe("unhealthy");
    h.clock.advance(2_000);
    expect(h.backend.agents.get("agent-1")?.liveness).toBe("lost");
  });

  it("ignores a heartbeat whose sequence number is not newer", async () => {
    const h = await hub();
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    const seqs: number[] = [];
    h.hub.on("agent-health", (e) => seqs.push(e.seq));
    const third = nextEvent(h.hub, "agent-health", (e) => e.seq === 3);
    agent.send({ type: "heartbeat", seq: 2, health: { cassandra: { reachable: false }, diskFreeBytes: 1, diskTotalBytes: 2, load1: 0 } });
    agent.send({ type: "heartbeat", seq: 1, health: { cassandra: { reachable: false }, diskFreeBytes: 1, diskTotalBytes: 2, load1: 0 } });
    agent.send({ type: "heartbeat", seq: 3, health: { cassandra: { reachable: true }, diskFreeBytes: 1, diskTotalBytes: 2, load1: 0 } });
    await third;
    expect(seqs).toEqual([2, 3]);
  });
});

describe("commands", () => {
  it("delivers a command sent to an offline agent when it reconnects, in order", async () => {
    const h = await hub();
    const credential = await register(h, "agent-1");
    const sent = [await h.hub.sendCommand("agent-1", assign(1)), await h.hub.sendCommand("agent-1", { type: "cancel", assignmentId: "as-1" }), await h.hub.sendCommand("agent-1", assign(2))];

    const agent = await connect(h.url, { credential });
    await agent.waitFor((m) => "commandId" in m && m.commandId === sent[2]?.commandId);
    expect(agent.commands().map((c) => c.commandId)).toEqual(sent.map((c) => c.commandId));
    expect(agent.commands()[0]).toMatchObject({ type: "assign", assignmentId: "as-1", idempotencyKey: "as-1", targetKeyspace: "shop_dev" });
  });

  it("pushes a command to a connected agent and reports its ack", async () => {
    const h = await hub();
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") }, { autoAck: true });
    const acked = nextEvent(h.hub, "command-acked");
    const command = await h.hub.sendCommand("agent-1", assign(1));
    expect(await acked).toEqual({ agentId: "agent-1", commandId: command.commandId });
    expect(await h.backend.pendingCommands("agent-1")).toEqual([]);
    expect(agent.commands()).toHaveLength(1);
  });

  it("redelivers an unacknowledged command on every reconnect until it is acked", async () => {
    const h = await hub();
    const credential = await register(h, "agent-1");
    const command = await h.hub.sendCommand("agent-1", assign(1));
    const isIt = (m: { type: string }) => "commandId" in m && (m as AssignMessage).commandId === command.commandId;

    const first = await connect(h.url, { credential });
    await first.waitFor(isIt);
    await first.close();

    const second = await connect(h.url, { credential });
    await second.waitFor(isIt);
    const acked = nextEvent(h.hub, "command-acked");
    second.ack(command.commandId);
    await acked;
    await second.close();

    // an acked command never comes back: the next command is the first this session sees
    const third = await connect(h.url, { credential });
    const next = await h.hub.sendCommand("agent-1", assign(2));
    await third.waitFor((m) => "commandId" in m && m.commandId === next.commandId);
    expect(third.commands().map((c) => c.commandId)).toEqual([next.commandId]);
  });

  it("sends each unacknowledged command once per session", async () => {
    const h = await hub();
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    const first = await h.hub.sendCommand("agent-1", assign(1));
    await agent.waitFor((m) => "commandId" in m && m.commandId === first.commandId);
    const second = await h.hub.sendCommand("agent-1", assign(2));
    const third = await h.hub.sendCommand("agent-1", assign(3));
    await agent.waitFor((m) => "commandId" in m && m.commandId === third.commandId);
    expect(agent.commands().map((c) => c.commandId)).toEqual([first.commandId, second.commandId, third.commandId]);
  });

  it("on a bus resync, delivers what arrived in the outbox while the bus was deaf", async () => {
    // two replicas over one outbox whose buses are not connected: the notice never arrives
    const a = await hub();
    const bBus = new LocalCommandBus();
    const b = await hub({ backend: a.backend, clock: a.clock, bus: bBus });
    const agent = await connect(b.url, { joinToken: a.backend.issueJoinToken("agent-1") });
    const command = await a.hub.sendCommand("agent-1", assign(1));
    expect(agent.commands()).toEqual([]);
    bBus.emit({ kind: "resync" });
    await agent.waitFor((m) => "commandId" in m && m.commandId === command.commandId);
  });

  it("gives the same command for the same idempotency key", async () => {
    const h = await hub();
    const a = await h.hub.sendCommand("agent-1", assign(1));
    const b = await h.hub.sendCommand("agent-1", assign(1));
    expect(b.commandId).toBe(a.commandId);
    expect(await h.backend.pendingCommands("agent-1")).toHaveLength(1);
  });

  it("refuses an invalid command before storing it", async () => {
    const h = await hub();
    await expect(h.hub.sendCommand("agent-1", { ...assign(1), targetKeyspace: "no spaces allowed" } as AgentCommandDraft)).rejects.toThrow(
      /invalid assign command for agent agent-1: targetKeyspace/,
    );
    expect(await h.backend.pendingCommands("agent-1")).toEqual([]);
  });
});

describe("shutdown", () => {
  it("says goodbye with a reconnect hint", async () => {
    const h = await hub();
    const agent = await connect(h.url, { joinToken: h.backend.issueJoinToken("agent-1") });
    await h.hub.close({ reconnectAfterMs: 3_000 });
    expect(await agent.waitFor((m) => m.type === "goodbye")).toMatchObject({ reconnectAfterMs: 3_000 });
    expect((await agent.closed).code).toBe(hubCloseCodes.goingAway);
  });
});
