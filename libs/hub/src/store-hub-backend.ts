import type { AgentCommand, HeartbeatMessage, HelloMessage, LifecycleMessage, ProgressMessage, ResultMessage } from "@devenv/protocol";
import { StoreError, type Agent, type JsonObject, type Store } from "@devenv/store";
import type { AgentCommandDraft, AgentLiveness, AuthOutcome, HubBackend, PendingCommand } from "./hub-backend.ts";

/**
 * Where what agents report goes: the owner of instance and assignment state (the fleet's
 * instance manager). The hub only authenticates, persists the outbox and forwards.
 */
export interface AgentReports {
  agentRegistered(agent: Agent): Promise<void>;
  agentConnected(agent: Agent): Promise<void>;
  agentLifecycle(agent: Agent, lifecycle: LifecycleMessage): Promise<void>;
  agentHeartbeat(agent: Agent, health: HeartbeatMessage["health"]): Promise<void>;
  agentProgress(agent: Agent, progress: ProgressMessage): Promise<void>;
  agentResult(agent: Agent, result: ResultMessage): Promise<void>;
  assignmentDelivered(agent: Agent, assignmentId: string): Promise<void>;
}

export interface StoreHubBackendOptions {
  store: Store;
  reports: AgentReports;
}

/**
 * The hub's persistence over the control plane's store: join tokens and credentials, the
 * per-agent outbox and agents' own state; what agents report about their instance and
 * its assignments goes to `reports`, which holds the policy.
 */
export class StoreHubBackend implements HubBackend {
  readonly #store: Store;
  readonly #reports: AgentReports;
  readonly #lifecycle = new Map<string, string>();

  constructor(options: StoreHubBackendOptions) {
    this.#store = options.store;
    this.#reports = options.reports;
  }

  async authenticate(hello: HelloMessage): Promise<AuthOutcome> {
    const input = { identity: hello.identity as unknown as JsonObject, version: hello.agentVersion, state: "registering" };
    if ("credential" in hello.auth) {
      const agent = await this.#store.agents.authenticate(hello.auth.credential);
      if (!agent) return { ok: false, reason: "unknown-credential", message: "unknown or revoked agent credential: register again with a new join token" };
      await this.#reports.agentConnected(agent);
      return { ok: true, agentId: agent.id };
    }
    try {
      const { agent, credential } = await this.#store.agents.registerWithJoinToken(hello.auth.joinToken, {
        ...input,
        // an EC2 host must be the instance the token was issued for
        verify: (instance) => {
          const claimed = hello.identity.instanceId;
          if (instance.provisioner === "ec2" && instance.providerId !== null && claimed !== undefined && claimed !== instance.providerId) {
            throw new StoreError("unauthorized", `join token of ${instance.providerId} presented by ${claimed}`);
          }
        },
      });
      await this.#reports.agentRegistered(agent);
      await this.#reports.agentConnected(agent);
      return { ok: true, agentId: agent.id, credential };
    } catch (error) {
      if (!(error instanceof StoreError)) throw error;
      if (error.code === "expired") return { ok: false, reason: "token-expired", message: "the join token has expired" };
      if (error.code === "unauthorized" && /presented by/.test(error.message)) return { ok: false, reason: "identity-mismatch", message: error.message };
      if (error.code === "unauthorized") return { ok: false, reason: "unknown-token", message: "unknown or already used join token" };
      throw error;
    }
  }

  async enqueueCommand(agentId: string, draft: AgentCommandDraft, idempotencyKey: string): Promise<{ command: AgentCommand; created: boolean }> {
    const { command, created } = await this.#store.commands.enqueue({ agentId, type: draft.type, payload: draft as unknown as JsonObject, idempotencyKey });
    return { command: toWire(command), created };
  }

  async pendingCommands(agentId: string): Promise<PendingCommand[]> {
    return (await this.#store.commands.pending(agentId)).map((c) => ({ command: toWire(c), deliveredAt: c.deliveredAt === null ? null : new Date(c.deliveredAt) }));
  }

  async markDelivered(agentId: string, commandId: string): Promise<void> {
    const command = await this.#store.commands.get(commandId);
    if (command.agentId !== agentId) return;
    await this.#store.commands.markDelivered(commandId);
    const payload = command.payload as { type?: string; assignmentId?: string };
    if (payload.type === "assign" && payload.assignmentId) await this.#reports.assignmentDelivered(await this.#store.agents.get(agentId), payload.assignmentId);
  }

  async markAcked(agentId: string, commandId: string): Promise<boolean> {
    let command;
    try {
      command = await this.#store.commands.get(commandId);
    } catch (error) {
      if (error instanceof StoreError && error.code === "not-found") return false;
      throw error;
    }
    if (command.agentId !== agentId || command.ackedAt !== null) return false;
    await this.#store.commands.markAcked(commandId);
    return true;
  }

  async recordHeartbeat(agentId: string, heartbeat: HeartbeatMessage): Promise<void> {
    const agent = await this.#store.agents.recordHeartbeat(agentId, { health: heartbeat.health as unknown as JsonObject });
    await this.#reports.agentHeartbeat(agent, heartbeat.health);
  }

  async recordLiveness(agentId: string, liveness: AgentLiveness): Promise<void> {
    const state = liveness === "healthy" ? (this.#lifecycle.get(agentId) ?? "idle") : liveness;
    await this.#store.agents.setState(agentId, state);
  }

  async recordLifecycle(agentId: string, lifecycle: LifecycleMessage): Promise<void> {
    this.#lifecycle.set(agentId, lifecycle.state);
    const agent = await this.#store.agents.setState(agentId, lifecycle.state);
    await this.#reports.agentLifecycle(agent, lifecycle);
  }

  async recordProgress(agentId: string, progress: ProgressMessage): Promise<void> {
    await this.#reports.agentProgress(await this.#store.agents.get(agentId), progress);
  }

  async recordResult(agentId: string, result: ResultMessage): Promise<void> {
    await this.#reports.agentResult(await this.#store.agents.get(agentId), result);
  }
}

function toWire(command: { id: string; payload: unknown }): AgentCommand {
  return { ...(command.payload as AgentCommandDraft), commandId: command.id } as AgentCommand;
}
