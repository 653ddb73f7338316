import { randomBytes, randomUUID } from "node:crypto";
import type {
  AgentCommand,
  AgentIdentity,
  HeartbeatMessage,
  HelloMessage,
  LifecycleMessage,
  ProgressMessage,
  ResultMessage,
} from "@devenv/protocol";
import type { AgentCommandDraft, AgentLiveness, AuthOutcome, HubBackend, PendingCommand } from "./hub-backend.ts";

interface JoinTokenRecord {
  agentId: string;
  /** When set, the hello's identity must carry this instance id. */
  instanceId: string | undefined;
  expiresAt: number;
  used: boolean;
}

interface OutboxEntry {
  agentId: string;
  command: AgentCommand;
  idempotencyKey: string;
  deliveredAt: Date | null;
  ackedAt: Date | null;
}

/** What the backend remembers of an agent, for assertions and the benchmark's report. */
export interface InMemoryAgentRecord {
  identity?: AgentIdentity;
  lastHeartbeat?: HeartbeatMessage;
  liveness?: AgentLiveness;
  lifecycle: LifecycleMessage[];
  progress: ProgressMessage[];
  results: ResultMessage[];
}

export interface InMemoryHubBackendOptions {
  now?: () => number;
  /** How many progress frames to keep per agent (the newest ones). */
  progressKept?: number;
}

/**
 * A HubBackend in process memory: join tokens, credentials and an outbox per agent, with
 * the same contract as the store-backed one. Several hubs may share one instance, the way
 * control-plane replicas share a database.
 */
export class InMemoryHubBackend implements HubBackend {
  private readonly now: () => number;
  private readonly progressKept: number;
  private readonly joinTokens = new Map<string, JoinTokenRecord>();
  private readonly credentials = new Map<string, { agentId: string; revoked: boolean }>();
  private readonly outbox = new Map<string, OutboxEntry[]>();
  private readonly commandsById = new Map<string, OutboxEntry>();
  readonly agents = new Map<string, InMemoryAgentRecord>();

  constructor(options: InMemoryHubBackendOptions = {}) {
    this.now = options.now ?? Date.now;
    this.progressKept = options.progressKept ?? 20;
  }

  /** Issues a single-use join token for the agent, optionally bound to an instance id. */
  issueJoinToken(agentId: string, options: { instanceId?: string; ttlMs?: number } = {}): string {
    const token = `jt_${randomBytes(16).toString("hex")}`;
    this.joinTokens.set(token, {
      agentId,
      instanceId: options.instanceId,
      expiresAt: this.now() + (options.ttlMs ?? 15 * 60_000),
      used: false,
    });
    return token;
  }

  /** Registers an agent that already holds a credential (used to preload a benchmark fleet). */
  addCredential(agentId: string, credential: string): void {
    this.credentials.set(credential, { agentId, revoked: false });
  }

  revokeCredentials(agentId: string): void {
    for (const record of this.credentials.values()) if (record.agentId === agentId) record.revoked = true;
  }

  record(agentId: string): InMemoryAgentRecord {
    let record = this.agents.get(agentId);
    if (!record) {
      record = { lifecycle: [], progress: [], results: [] };
      this.agents.set(agentId, record);
    }
    return record;
  }

  async authenticate(hello: HelloMessage): Promise<AuthOutcome> {
    const outcome = this.check(hello);
    if (outcome.ok) this.record(outcome.agentId).identity = hello.identity;
    return outcome;
  }

  private check(hello: HelloMessage): AuthOutcome {
    if ("credential" in hello.auth) {
      const record = this.credentials.get(hello.auth.credential);
      if (!record) return { ok: false, reason: "unknown-credential", message: "unknown agent credential" };
      if (record.revoked) return { ok: false, reason: "credential-revoked", message: "this agent credential was revoked" };
      return { ok: true, agentId: record.agentId };
    }
    const token = this.joinTokens.get(hello.auth.joinToken);
    if (!token) return { ok: false, reason: "unknown-token", message: "unknown join token" };
    if (token.used) return { ok: false, reason: "token-used", message: "this join token was already used" };
    if (token.expiresAt <= this.now()) return { ok: false, reason: "token-expired", message: "this join token has expired" };
    if (token.instanceId !== undefined && token.instanceId !== hello.identity.instanceId) {
      return { ok: false, reason: "identity-mismatch", message: "this join token belongs to another instance" };
    }
    token.used = true;
    const credential = `ac_${randomBytes(24).toString("hex")}`;
    this.credentials.set(credential, { agentId: token.agentId, revoked: false });
    return { ok: true, agentId: token.agentId, credential };
  }

  async enqueueCommand(
    agentId: string,
    draft: AgentCommandDraft,
    idempotencyKey: string,
  ): Promise<{ command: AgentCommand; created: boolean }> {
    const entries = this.outbox.get(agentId) ?? [];
    const existing = entries.find((entry) => entry.idempotencyKey === idempotencyKey);
    if (existing) return { command: existing.command, created: false };
    const command = { ...draft, commandId: randomUUID() } as AgentCommand;
    const entry: OutboxEntry = { agentId, command, idempotencyKey, deliveredAt: null, ackedAt: null };
    entries.push(entry);
    this.outbox.set(agentId, entries);
    this.commandsById.set(command.commandId, entry);
    return { command, created: true };
  }

  async pendingCommands(agentId: string): Promise<PendingCommand[]> {
    return (this.outbox.get(agentId) ?? [])
      .filter((entry) => entry.ackedAt === null)
      .map((entry) => ({ command: entry.command, deliveredAt: entry.deliveredAt }));
  }

  async markDelivered(agentId: string, commandId: string, at: Date): Promise<void> {
    const entry = this.commandsById.get(commandId);
    if (entry && entry.agentId === agentId) entry.deliveredAt ??= at;
  }

  async markAcked(agentId: string, commandId: string, at: Date): Promise<boolean> {
    const entry = this.commandsById.get(commandId);
    if (!entry || entry.agentId !== agentId || entry.ackedAt !== null) return false;
    entry.ackedAt = at;
    entry.deliveredAt ??= at;
    return true;
  }

  async recordHeartbeat(agentId: string, heartbeat: HeartbeatMessage): Promise<void> {
    this.record(agentId).lastHeartbeat = heartbeat;
  }

  async recordLiveness(agentId: string, liveness: AgentLiveness): Promise<void> {
    this.record(agentId).liveness = liveness;
  }

  async recordLifecycle(agentId: string, lifecycle: LifecycleMessage): Promise<void> {
    this.record(agentId).lifecycle.push(lifecycle);
  }

  async recordProgress(agentId: string, progress: ProgressMessage): Promise<void> {
    const list = this.record(agentId).progress;
    list.push(progress);
    if (list.length > this.progressKept) list.shift();
  }

  async recordResult(agentId: string, result: ResultMessage): Promise<void> {
    this.record(agentId).results.push(result);
  }
}
