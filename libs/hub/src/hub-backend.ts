import type {
  AgentCommand,
  HeartbeatMessage,
  HelloMessage,
  LifecycleMessage,
  ProgressMessage,
  ResultMessage,
} from "@devenv/protocol";

/** Why a hello was refused; sent to the agent as the `error` frame's message. */
export const authRefusalReasons = ["unknown-token", "token-used", "token-expired", "identity-mismatch", "credential-revoked", "unknown-credential"] as const;
export type AuthRefusalReason = (typeof authRefusalReasons)[number];

export type AuthOutcome =
  | {
      ok: true;
      agentId: string;
      /** Present when a join token was exchanged: the agent receives it once, in `welcome`. */
      credential?: string;
    }
  | { ok: false; reason: AuthRefusalReason; message: string };

/** Omit applied to each member of a union, so a draft stays discriminated on `type`. */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A command as a caller hands it to the hub: the outbox assigns its id. */
export type AgentCommandDraft = DistributiveOmit<AgentCommand, "commandId">;

/** A command waiting in an agent's outbox: enqueued, perhaps delivered, not yet acknowledged. */
export interface PendingCommand {
  command: AgentCommand;
  /** When it was first pushed down a socket; null while never delivered. */
  deliveredAt: Date | null;
}

/** How the hub judges an agent from its heartbeats. */
export type AgentLiveness = "healthy" | "unhealthy" | "lost";

/**
 * Persistence and authentication for the hub. The control plane implements it over its
 * store (join tokens, agent credentials, the per-agent command outbox); the in-memory
 * implementation serves tests and benchmarks.
 *
 * Outbox contract: commands of one agent come back from pendingCommands in the order
 * they were enqueued, until markAcked; markDelivered only counts deliveries.
 */
export interface HubBackend {
  /** Checks a hello's join token (single use, bound to the identity) or credential. */
  authenticate(hello: HelloMessage): Promise<AuthOutcome>;
  /**
   * Appends a command to the agent's outbox and gives it its id. The idempotency key is
   * unique per agent: enqueueing a key again returns the first command with created: false.
   */
  enqueueCommand(agentId: string, draft: AgentCommandDraft, idempotencyKey: string): Promise<{ command: AgentCommand; created: boolean }>;
  pendingCommands(agentId: string): Promise<PendingCommand[]>;
  markDelivered(agentId: string, commandId: string, at: Date): Promise<void>;
  /** Returns false when the agent has no such unacknowledged command (a duplicate or a stray ack). */
  markAcked(agentId: string, commandId: string, at: Date): Promise<boolean>;
  recordHeartbeat(agentId: string, heartbeat: HeartbeatMessage, at: Date): Promise<void>;
  recordLiveness(agentId: string, liveness: AgentLiveness, at: Date): Promise<void>;
  recordLifecycle(agentId: string, lifecycle: LifecycleMessage): Promise<void>;
  recordProgress(agentId: string, progress: ProgressMessage, at: Date): Promise<void>;
  recordResult(agentId: string, result: ResultMessage, at: Date): Promise<void>;
}
