import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import {
  AgentCommand,
  decodeTunnelFrame,
  encodeTunnelFrame,
  isBackwardTransition,
  isSupportedProtocolVersion,
  minSupportedProtocolVersion,
  parseAgentFrame,
  protocolVersion,
} from "@devenv/protocol";
import type {
  AgentHealth,
  AgentIdentity,
  AgentLifecycleState,
  AgentToControlPlane,
  HeartbeatMessage,
  HelloMessage,
  LifecycleMessage,
  ProgressMessage,
  ResultMessage,
} from "@devenv/protocol";
import { WebSocketServer } from "ws";
import type { RawData, WebSocket } from "ws";
import { AgentSession } from "./agent-session.ts";
import type { Clock, ClockTimer } from "@devenv/core";
import { systemClock } from "@devenv/core";
import type { BusEvent, BusNotice, CommandBus } from "./command-bus.ts";
import { LocalCommandBus } from "./command-bus.ts";
import type { AgentCommandDraft, AgentLiveness, HubBackend } from "./hub-backend.ts";
import type { HubLogger } from "./hub-logger.ts";
import { silentLogger } from "./hub-logger.ts";

/** WebSocket close codes the hub uses; 4xxx are ours, named after the HTTP status they echo. */
export const hubCloseCodes = {
  goingAway: 1001,
  policyViolation: 1008,
  internalError: 1011,
  unauthorized: 4401,
  /** No heartbeat for the `lost` threshold: the socket is presumed half-open. */
  heartbeatTimeout: 4408,
  /** The same agent opened a newer session (here or on another replica). */
  replaced: 4409,
  unsupportedProtocolVersion: 4426,
} as const;

export interface AgentHubOptions {
  /** The HTTP server whose `upgrade` requests on `path` become agent sessions. */
  server: Server;
  backend: HubBackend;
  /** Default `/agent`. */
  path?: string;
  clock?: Clock;
  /** How replicas reach the one holding an agent's socket; default: this process only. */
  bus?: CommandBus;
  replicaId?: string;
  /** Told to agents in `welcome`; default 10 s. */
  heartbeatIntervalMs?: number;
  /** Missed heartbeats after which an agent is `unhealthy` (default 3) and `lost` (default 6). */
  unhealthyAfterMissedHeartbeats?: number;
  lostAfterMissedHeartbeats?: number;
  /** A socket that has not said hello by then is closed; default 10 s. */
  helloDeadlineMs?: number;
  /** Malformed frames a socket may send before it is closed; default 5. */
  malformedFramesBeforeClose?: number;
  /** Larger frames close the socket; default 1 MiB. */
  maxFrameBytes?: number;
  logger?: HubLogger;
}

export interface AgentConnectedEvent {
  agentId: string;
  identity: AgentIdentity;
  agentVersion: string;
  protocolVersion: number;
  remoteAddress: string | undefined;
}
export interface AgentDisconnectedEvent {
  agentId: string;
  code: number;
  reason: string;
}
export interface AgentHealthEvent {
  agentId: string;
  seq: number;
  health: AgentHealth;
  at: Date;
}
export interface AgentLivenessEvent {
  agentId: string;
  liveness: AgentLiveness;
  previous: AgentLiveness;
  missedHeartbeats: number;
}
export interface AgentLifecycleEvent {
  agentId: string;
  state: AgentLifecycleState;
  previous: AgentLifecycleState | undefined;
  at: string;
  detail: string | undefined;
}
export interface CommandEvent {
  agentId: string;
  commandId: string;
}

/** Everything the hub reports, for the API, the fleet page and metrics. */
export interface HubEvents {
  "agent-connected": [AgentConnectedEvent];
  "agent-disconnected": [AgentDisconnectedEvent];
  "agent-health": [AgentHealthEvent];
  "agent-liveness": [AgentLivenessEvent];
  "agent-lifecycle": [AgentLifecycleEvent];
  "agent-progress": [{ agentId: string; progress: ProgressMessage }];
  "agent-result": [{ agentId: string; result: ResultMessage }];
  "agent-interruption": [{ agentId: string; deadline: string }];
  "command-delivered": [CommandEvent];
  "command-acked": [CommandEvent];
  /** Bytes an agent sent on a tunnel stream (a binary frame). */
  "tunnel-data": [{ agentId: string; streamId: number; data: Uint8Array }];
}

/** An agent this replica watches: connected now, or recently and not yet lost. */
interface TrackedAgent {
  session: AgentSession | undefined;
  lastHeartbeatAt: number;
  liveness: AgentLiveness;
  lifecycleState: AgentLifecycleState | undefined;
}

/**
 * The control plane's end of the agent protocol, attached to an HTTP server's upgrades.
 *
 * Every frame is parsed with the protocol's zod schemas, both ways. A socket must say
 * `hello` first and in time; the backend authenticates it; the hub answers `welcome` and
 * pushes the agent's outbox in order. Commands are delivered at least once: a command
 * goes down each session until the agent acknowledges it, and the agent makes it
 * effective once by its idempotency key. sendCommand persists first and pushes second,
 * through the bus when another replica holds the socket.
 */
export class AgentHub extends EventEmitter<HubEvents> {
  readonly replicaId: string;
  readonly path: string;
  readonly heartbeatIntervalMs: number;
  private readonly server: Server;
  private readonly backend: HubBackend;
  private readonly clock: Clock;
  private readonly bus: CommandBus;
  private readonly logger: HubLogger;
  private readonly unhealthyAfter: number;
  private readonly lostAfter: number;
  private readonly helloDeadlineMs: number;
  private readonly malformedLimit: number;
  private readonly wss: WebSocketServer;
  private readonly agents = new Map<string, TrackedAgent>();
  private readonly sessions = new Set<AgentSession>();
  private readonly onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  private sweepTimer: ClockTimer | undefined;
  private started = false;
  private closed = false;

  constructor(options: AgentHubOptions) {
    super();
    this.server = options.server;
    this.backend = options.backend;
    this.path = options.path ?? "/agent";
    this.clock = options.clock ?? systemClock;
    this.bus = options.bus ?? new LocalCommandBus();
    this.replicaId = options.replicaId ?? randomUUID();
    this.logger = options.logger ?? silentLogger;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 10_000;
    this.unhealthyAfter = options.unhealthyAfterMissedHeartbeats ?? 3;
    this.lostAfter = options.lostAfterMissedHeartbeats ?? 6;
    this.helloDeadlineMs = options.helloDeadlineMs ?? 10_000;
    this.malformedLimit = options.malformedFramesBeforeClose ?? 5;
    if (!(this.unhealthyAfter >= 1 && this.lostAfter > this.unhealthyAfter)) {
      throw new Error(
        `heartbeat thresholds: need 1 <= unhealthyAfterMissedHeartbeats (${this.unhealthyAfter}) < lostAfterMissedHeartbeats (${this.lostAfter})`,
      );
    }
    // per-socket compression would cost tens of KiB each: agent frames are small
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxFrameBytes ?? 1024 * 1024,
    });
    this.onUpgrade = (request, socket, head) => this.upgrade(request, socket, head);
  }

  /** Subscribes to the bus and starts taking upgrades on the path. */
  async start(): Promise<void> {
    if (this.started) throw new Error("this hub was already started");
    this.started = true;
    await this.bus.subscribe((event) => this.onBusEvent(event));
    this.server.on("upgrade", this.onUpgrade);
    this.scheduleSweep();
  }

  /** Says goodbye to every agent (they come back after `reconnectAfterMs`) and stops. */
  async close(options: { reason?: string; reconnectAfterMs?: number } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.server.off("upgrade", this.onUpgrade);
    this.sweepTimer?.cancel();
    const reason = options.reason ?? "control plane shutting down";
    const closing = [...this.sessions].map(
      (session) =>
        new Promise<void>((resolve) => {
          if (session.socket.readyState === session.socket.CLOSED) return resolve();
          session.socket.once("close", () => resolve());
          if (session.phase === "open") {
            session.send({ type: "goodbye", reason, reconnectAfterMs: options.reconnectAfterMs ?? 1_000 });
          }
          session.close(hubCloseCodes.goingAway, reason);
          // a peer that never answers the close handshake must not hold up shutdown
          setTimeout(() => session.socket.terminate(), 2_000).unref();
        }),
    );
    await Promise.all(closing);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Agents with a socket on this replica. */
  connectedAgents(): string[] {
    return [...this.agents].filter(([, agent]) => agent.session?.isOpen).map(([agentId]) => agentId);
  }

  /** What this replica knows of an agent's liveness; undefined for agents it does not watch. */
  liveness(agentId: string): AgentLiveness | undefined {
    return this.agents.get(agentId)?.liveness;
  }

  /**
   * Stores a command in the agent's outbox, then pushes it if the agent is connected
   * here, or tells the other replicas. Offline agents get it when they reconnect.
   * The idempotency key defaults to an assignment's own, else a fresh one.
   */
  async sendCommand(agentId: string, draft: AgentCommandDraft, options: { idempotencyKey?: string } = {}): Promise<AgentCommand> {
    const checked = AgentCommand.safeParse({ ...draft, commandId: "unassigned" });
    if (!checked.success) {
      throw new Error(`invalid ${draft.type} command for agent ${agentId}: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    const idempotencyKey = options.idempotencyKey ?? (draft.type === "assign" ? draft.idempotencyKey : randomUUID());
    const { command } = await this.backend.enqueueCommand(agentId, draft, idempotencyKey);
    const session = this.agents.get(agentId)?.session;
    if (session?.isOpen) this.deliver(session);
    else await this.publish({ kind: "command", agentId, replicaId: this.replicaId });
    return command;
  }

  /** Pushes what waits in the agent's outbox: here when its socket is here, else through the other replicas. */
  async pushOutbox(agentId: string): Promise<void> {
    const session = this.agents.get(agentId)?.session;
    if (session?.isOpen) this.deliver(session);
    else await this.publish({ kind: "command", agentId, replicaId: this.replicaId });
  }

  /**
   * Closes the sessions of agents that may no longer speak for their instance (it ended,
   * their credentials are revoked), on whichever replica holds them; their tunnels close
   * with them.
   */
  async disconnect(agentIds: readonly string[], reason: string): Promise<void> {
    this.closeSessions(agentIds, reason);
    await this.publish({ kind: "disconnect", agentIds: [...agentIds], reason, replicaId: this.replicaId });
  }

  private closeSessions(agentIds: readonly string[], reason: string): void {
    for (const agentId of agentIds) {
      const tracked = this.agents.get(agentId);
      if (!tracked) continue;
      this.agents.delete(agentId);
      if (!tracked.session) continue;
      this.logger.info({ agentId, reason }, "closing an agent's session: it may no longer speak for its instance");
      tracked.session.close(hubCloseCodes.unauthorized, reason.slice(0, 120));
      // a peer that never answers the close handshake is cut
      const socket = tracked.session.socket;
      setTimeout(() => socket.terminate(), 2_000).unref();
    }
  }

  /** Sends tunnel bytes to an agent connected here; false when it is not. */
  sendTunnelData(agentId: string, streamId: number, data: Uint8Array): boolean {
    const session = this.agents.get(agentId)?.session;
    if (!session?.isOpen) return false;
    session.socket.send(encodeTunnelFrame(streamId, data), { binary: true });
    return true;
  }

  // ---- sessions -----------------------------------------------------------------------

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const pathname = new URL(request.url ?? "/", "http://hub.invalid").pathname;
    if (pathname !== this.path) return; // another listener's upgrade
    if (this.closed) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request));
  }

  private accept(socket: WebSocket, request: IncomingMessage): void {
    const session = new AgentSession(socket, request.socket.remoteAddress);
    this.sessions.add(session);
    session.helloTimer = this.clock.setTimeout(() => {
      if (session.phase !== "awaiting-hello") return;
      this.logger.info({ remoteAddress: session.remoteAddress }, "agent socket closed: no hello in time");
      session.fail(hubCloseCodes.policyViolation, {
        type: "error",
        code: "hello-timeout",
        message: `no hello within ${this.helloDeadlineMs} ms`,
      });
    }, this.helloDeadlineMs);

    socket.on("message", (data, isBinary) => this.onFrame(session, data, isBinary));
    socket.on("error", (error) => this.logger.warn({ err: error, agentId: session.agentId }, "agent socket error"));
    socket.on("close", (code, reason) => this.onClose(session, code, reason.toString()));
  }

  private onFrame(session: AgentSession, data: RawData, isBinary: boolean): void {
    if (session.phase === "closed") return;
    if (isBinary) {
      this.onBinaryFrame(session, toBuffer(data));
      return;
    }
    const parsed = parseAgentFrame(toBuffer(data).toString("utf8"));
    if (!parsed.ok) {
      this.malformed(session, parsed.error);
      return;
    }
    session.runInbound(
      () => this.handle(session, parsed.message),
      (error) => {
        this.logger.error({ err: error, agentId: session.agentId, type: parsed.message.type }, "handling an agent frame failed");
        session.fail(hubCloseCodes.internalError, { type: "error", code: "internal", message: "the control plane failed to handle a frame; reconnect" });
      },
    );
  }

  private onBinaryFrame(session: AgentSession, data: Buffer): void {
    if (session.phase !== "open" || session.agentId === undefined) {
      this.malformed(session, "binary frames carry tunnel data and need a session: send hello first");
      return;
    }
    const frame = decodeTunnelFrame(data);
    if (!frame.ok) {
      this.malformed(session, frame.error);
      return;
    }
    this.emit("tunnel-data", { agentId: session.agentId, streamId: frame.message.streamId, data: frame.message.data });
  }

  private malformed(session: AgentSession, problem: string): void {
    session.malformedFrames += 1;
    this.logger.warn({ agentId: session.agentId, remoteAddress: session.remoteAddress, problem }, "malformed agent frame");
    if (session.malformedFrames >= this.malformedLimit) {
      session.fail(hubCloseCodes.policyViolation, {
        type: "error",
        code: "malformed-frame",
        message: `closing after ${session.malformedFrames} malformed frames; last: ${problem}`.slice(0, 2000),
      });
      return;
    }
    session.send({ type: "error", code: "malformed-frame", message: problem.slice(0, 2000) });
  }

  private async handle(session: AgentSession, message: AgentToControlPlane): Promise<void> {
    if (session.phase === "closed") return;
    if (session.phase === "awaiting-hello") {
      if (message.type !== "hello") {
        session.fail(hubCloseCodes.policyViolation, { type: "error", code: "hello-required", message: `expected hello first, got ${message.type}` });
        return;
      }
      await this.hello(session, message);
      return;
    }
    const agentId = session.agentId;
    if (agentId === undefined) return;
    const now = new Date(this.clock.now());
    switch (message.type) {
      case "hello":
        this.malformed(session, "hello was already received on this socket");
        return;
      case "heartbeat":
        await this.heartbeat(session, agentId, message, now);
        return;
      case "lifecycle":
        await this.lifecycle(session, agentId, message);
        return;
      case "ack":
        if (await this.backend.markAcked(agentId, message.commandId, now)) {
          this.emit("command-acked", { agentId, commandId: message.commandId });
        } else {
          this.logger.debug({ agentId, commandId: message.commandId }, "ack of a command that is not pending (duplicate or unknown)");
        }
        return;
      case "progress":
        await this.backend.recordProgress(agentId, message, now);
        this.emit("agent-progress", { agentId, progress: message });
        return;
      case "result":
        await this.backend.recordResult(agentId, message, now);
        this.emit("agent-result", { agentId, result: message });
        return;
      case "interruption":
        this.logger.warn({ agentId, deadline: message.deadline }, "agent reports a spot interruption");
        this.emit("agent-interruption", { agentId, deadline: message.deadline });
        return;
    }
  }

  private async hello(session: AgentSession, hello: HelloMessage): Promise<void> {
    session.helloTimer?.cancel();
    if (!isSupportedProtocolVersion(hello.protocolVersion)) {
      session.fail(hubCloseCodes.unsupportedProtocolVersion, {
        type: "error",
        code: "unsupported-protocol-version",
        message: `protocol version ${hello.protocolVersion} is not supported: this control plane speaks ${minSupportedProtocolVersion} to ${protocolVersion}`,
      });
      return;
    }
    const outcome = await this.backend.authenticate(hello);
    if (session.phase === "closed") return; // the socket went away while we asked
    if (!outcome.ok) {
      this.logger.warn({ reason: outcome.reason, hostname: hello.identity.hostname, remoteAddress: session.remoteAddress }, "agent refused");
      session.fail(hubCloseCodes.unauthorized, { type: "error", code: "unauthorized", message: outcome.message });
      return;
    }
    const { agentId } = outcome;
    session.agentId = agentId;
    session.phase = "open";
    session.openedAt = this.clock.now();
    session.send({
      type: "welcome",
      agentId,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      ...(outcome.credential === undefined ? {} : { credential: outcome.credential }),
    });

    const tracked = this.agents.get(agentId);
    const previousSession = tracked?.session;
    if (previousSession && previousSession !== session) {
      previousSession.close(hubCloseCodes.replaced, "replaced by a newer session of this agent");
    }
    this.agents.set(agentId, {
      session,
      lastHeartbeatAt: this.clock.now(),
      liveness: tracked?.liveness ?? "healthy",
      lifecycleState: tracked?.lifecycleState,
    });
    if (tracked) this.setLiveness(agentId, "healthy", 0);
    else await this.backend.recordLiveness(agentId, "healthy", new Date(this.clock.now())); // perhaps `lost` before
    this.emit("agent-connected", {
      agentId,
      identity: hello.identity,
      agentVersion: hello.agentVersion,
      protocolVersion: hello.protocolVersion,
      remoteAddress: session.remoteAddress,
    });
    await this.publish({ kind: "session-opened", agentId, replicaId: this.replicaId, openedAt: session.openedAt });
    this.deliver(session);
  }

  private async heartbeat(session: AgentSession, agentId: string, heartbeat: HeartbeatMessage, now: Date): Promise<void> {
    if (heartbeat.seq <= session.lastHeartbeatSeq) {
      this.logger.debug({ agentId, seq: heartbeat.seq, last: session.lastHeartbeatSeq }, "stale heartbeat ignored");
      return;
    }
    session.lastHeartbeatSeq = heartbeat.seq;
    const tracked = this.agents.get(agentId);
    if (tracked) tracked.lastHeartbeatAt = now.getTime();
    this.setLiveness(agentId, "healthy", 0);
    await this.backend.recordHeartbeat(agentId, heartbeat, now);
    this.emit("agent-health", { agentId, seq: heartbeat.seq, health: heartbeat.health, at: now });
  }

  private async lifecycle(session: AgentSession, agentId: string, lifecycle: LifecycleMessage): Promise<void> {
    const current = session.lifecycleState;
    if (lifecycle.seq <= session.lastLifecycleSeq) {
      this.logger.info({ agentId, seq: lifecycle.seq, state: lifecycle.state }, "lifecycle report ignored: stale sequence number");
      return;
    }
    session.lastLifecycleSeq = lifecycle.seq;
    if (current !== undefined && isBackwardTransition(current, lifecycle.state)) {
      this.logger.warn({ agentId, from: current, to: lifecycle.state, seq: lifecycle.seq }, "lifecycle report ignored: it moves backwards");
      return;
    }
    session.lifecycleState = lifecycle.state;
    const tracked = this.agents.get(agentId);
    const previous = tracked?.lifecycleState;
    if (tracked) tracked.lifecycleState = lifecycle.state;
    await this.backend.recordLifecycle(agentId, lifecycle);
    this.emit("agent-lifecycle", { agentId, state: lifecycle.state, previous, at: lifecycle.at, detail: lifecycle.detail });
  }

  private onClose(session: AgentSession, code: number, reason: string): void {
    session.helloTimer?.cancel();
    session.phase = "closed";
    this.sessions.delete(session);
    const agentId = session.agentId;
    if (agentId === undefined) return;
    const tracked = this.agents.get(agentId);
    // a replaced session closing must not detach its successor
    if (tracked?.session === session) tracked.session = undefined;
    this.emit("agent-disconnected", { agentId, code, reason });
  }

  // ---- commands -------------------------------------------------------------------------

  /** Pushes, in outbox order, every pending command this session has not carried yet. */
  private deliver(session: AgentSession): void {
    session.scheduleDelivery(
      async () => {
        const agentId = session.agentId;
        if (!session.isOpen || agentId === undefined) return;
        for (const { command } of await this.backend.pendingCommands(agentId)) {
          if (!session.isOpen) return;
          if (session.sentCommands.has(command.commandId)) continue;
          session.sentCommands.add(command.commandId);
          session.send(command);
          await this.backend.markDelivered(agentId, command.commandId, new Date(this.clock.now()));
          this.emit("command-delivered", { agentId, commandId: command.commandId });
        }
      },
      (error) => this.logger.error({ err: error, agentId: session.agentId }, "delivering commands failed; they stay pending"),
    );
  }

  /**
   * Notices are hints: the outbox holds the truth, and an agent whose notice was lost gets
   * its commands on its next session or the next resync. A bus outage must not refuse
   * agents or fail a command that is already stored.
   */
  private async publish(notice: BusNotice): Promise<void> {
    try {
      await this.bus.publish(notice);
    } catch (error) {
      this.logger.warn({ err: error, notice }, "command bus publish failed; delivery waits for the agent's next session");
    }
  }

  private onBusEvent(event: BusEvent): void {
    if (this.closed) return;
    switch (event.kind) {
      case "resync":
        for (const agent of this.agents.values()) if (agent.session?.isOpen) this.deliver(agent.session);
        return;
      case "command": {
        const session = this.agents.get(event.agentId)?.session;
        if (session?.isOpen) this.deliver(session);
        return;
      }
      case "disconnect":
        if (event.replicaId !== this.replicaId) this.closeSessions(event.agentIds, event.reason);
        return;
      case "session-opened": {
        if (event.replicaId === this.replicaId) return;
        const tracked = this.agents.get(event.agentId);
        // news of an older session elsewhere must not close the newer one here
        if (!tracked || (tracked.session && tracked.session.openedAt >= event.openedAt)) return;
        // the agent lives on another replica now: that replica watches its heartbeats
        tracked.session?.close(hubCloseCodes.replaced, "replaced by a newer session of this agent on another replica");
        this.agents.delete(event.agentId);
        return;
      }
    }
  }

  // ---- heartbeats -------------------------------------------------------------------------

  private scheduleSweep(): void {
    if (this.closed) return;
    this.sweepTimer = this.clock.setTimeout(() => {
      this.sweep();
      this.scheduleSweep();
    }, this.heartbeatIntervalMs);
  }

  /** Judges every watched agent by the heartbeats it missed; lost agents are dropped and their sockets cut. */
  private sweep(): void {
    const now = this.clock.now();
    for (const [agentId, agent] of this.agents) {
      const missed = Math.floor((now - agent.lastHeartbeatAt) / this.heartbeatIntervalMs);
      const liveness: AgentLiveness = missed >= this.lostAfter ? "lost" : missed >= this.unhealthyAfter ? "unhealthy" : "healthy";
      this.setLiveness(agentId, liveness, missed);
      if (liveness === "lost") {
        this.agents.delete(agentId);
        if (agent.session) {
          this.logger.warn({ agentId, missed }, "agent lost: closing its silent socket");
          agent.session.close(hubCloseCodes.heartbeatTimeout, `no heartbeat for ${missed} intervals`);
          agent.session.socket.terminate();
        }
      }
    }
  }

  private setLiveness(agentId: string, liveness: AgentLiveness, missedHeartbeats: number): void {
    const agent = this.agents.get(agentId);
    const previous = agent?.liveness ?? "healthy";
    if (agent) agent.liveness = liveness;
    if (previous === liveness) return;
    this.backend.recordLiveness(agentId, liveness, new Date(this.clock.now())).catch((error: unknown) => {
      this.logger.error({ err: error, agentId, liveness }, "recording agent liveness failed");
    });
    this.emit("agent-liveness", { agentId, liveness, previous, missedHeartbeats });
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
