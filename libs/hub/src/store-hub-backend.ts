import type { AgentCommand, HeartbeatMessage, HelloMessage, LifecycleMessage, ProgressMessage, ResultMessage } from "@devenv/protocol";
import { StoreError, type Instance, type InstanceState, type JsonObject, type Store } from "@devenv/store";
import type { AgentCommandDraft, AgentLiveness, AuthOutcome, HubBackend, PendingCommand } from "./hub-backend.ts";

export interface StoreHubBackendOptions {
  store: Store;
  /** An agent of an instance reports a spot interruption (lifecycle `interrupting`). */
  onInterruption?: (instance: Instance, detail: string | undefined) => void;
  onError?: (what: string, error: unknown) => void;
}

/**
 * The hub's persistence over the control plane's store: join tokens and credentials,
 * the per-agent outbox, and what agents report turned into catalogue facts: instance
 * states, assignment progress and results, and real database use for the reaper.
 */
export class StoreHubBackend implements HubBackend {
  readonly #store: Store;
  readonly #onInterruption: (instance: Instance, detail: string | undefined) => void;
  readonly #onError: (what: string, error: unknown) => void;
  // the last CQL request count each agent reported: activity is its growth, not its value
  readonly #lastRequests = new Map<string, number>();
  readonly #lifecycle = new Map<string, string>();

  constructor(options: StoreHubBackendOptions) {
    this.#store = options.store;
    this.#onInterruption = options.onInterruption ?? (() => {});
    this.#onError = options.onError ?? (() => {});
  }

  async authenticate(hello: HelloMessage): Promise<AuthOutcome> {
    const input = { identity: hello.identity as unknown as JsonObject, version: hello.agentVersion, state: "registering" };
    if ("credential" in hello.auth) {
      const agent = await this.#store.agents.authenticate(hello.auth.credential);
      if (!agent) return { ok: false, reason: "unknown-credential", message: "unknown or revoked agent credential: register again with a new join token" };
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
      await this.#moveInstance(agent.instanceId, "registering", ["provisioning"]);
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
    if (payload.type === "assign" && payload.assignmentId) {
      await this.#store.assignments.update(payload.assignmentId, { state: "sent" }).catch((e: unknown) => this.#ignoreFinished(e));
    }
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
    // idle is judged from real database use, not from an open socket
    const requests = heartbeat.health.cqlRequests;
    const previous = this.#lastRequests.get(agentId);
    if (requests !== undefined) this.#lastRequests.set(agentId, requests);
    const used = (heartbeat.health.clientConnections ?? 0) > 0 || (requests !== undefined && previous !== undefined && requests > previous);
    if (used) await this.#store.instances.touch(agent.instanceId);
  }

  async recordLiveness(agentId: string, liveness: AgentLiveness): Promise<void> {
    const state = liveness === "healthy" ? (this.#lifecycle.get(agentId) ?? "idle") : liveness;
    await this.#store.agents.setState(agentId, state);
  }

  async recordLifecycle(agentId: string, lifecycle: LifecycleMessage): Promise<void> {
    this.#lifecycle.set(agentId, lifecycle.state);
    const agent = await this.#store.agents.setState(agentId, lifecycle.state);
    switch (lifecycle.state) {
      case "downloading":
      case "restoring":
        await this.#moveInstance(agent.instanceId, "restoring", ["registering"]);
        await this.#moveInstance(agent.instanceId, "refreshing", ["ready"]);
        return;
      case "ready":
        await this.#moveInstance(agent.instanceId, "ready", ["registering", "restoring", "refreshing"]);
        return;
      case "idle": {
        // registered with nothing to restore: the instance is ready as it is
        const latest = await this.#store.assignments.latestForInstance(agent.instanceId);
        if (latest === undefined || ["succeeded", "failed", "cancelled"].includes(latest.state)) {
          await this.#moveInstance(agent.instanceId, "ready", ["registering", "restoring", "refreshing"]);
        }
        return;
      }
      case "interrupting": {
        const instance = await this.#store.instances.get(agent.instanceId);
        await this.#store.audit.record({ actor: `agent:${agentId}`, action: "instance.interruption", subject: `instance:${instance.id}`, detail: { detail: lifecycle.detail ?? null } });
        this.#onInterruption(instance, lifecycle.detail);
        return;
      }
      case "booting":
      case "registering":
      case "degraded":
      case "draining":
      case "stopped":
        return;
    }
  }

  async recordProgress(_agentId: string, progress: ProgressMessage): Promise<void> {
    const { type: _type, assignmentId, ...figures } = progress;
    await this.#store.assignments.update(assignmentId, { state: "running", progress: figures as unknown as JsonObject }).catch((e: unknown) => this.#ignoreFinished(e));
  }

  async recordResult(_agentId: string, result: ResultMessage): Promise<void> {
    const done = result.ok ? this.#store.assignments.succeed(result.assignmentId) : this.#store.assignments.fail(result.assignmentId, result.error ?? "restore failed");
    await done.catch((e: unknown) => this.#ignoreFinished(e));
  }

  /** Moves the instance when it is in one of `from`; a state that moved on already is left alone. */
  async #moveInstance(instanceId: string, to: InstanceState, from: readonly InstanceState[]): Promise<void> {
    const instance = await this.#store.instances.get(instanceId);
    if (!from.includes(instance.state)) return;
    try {
      await this.#store.instances.transition(instanceId, { to, from: instance.state });
    } catch (error) {
      if (error instanceof StoreError && (error.code === "conflict" || error.code === "invalid-transition")) return;
      this.#onError(`instance ${instanceId} -> ${to}`, error);
    }
  }

  /** A report about an assignment that is already finished (redelivered, or cancelled meanwhile) changes nothing. */
  #ignoreFinished(error: unknown): void {
    if (error instanceof StoreError && (error.code === "invalid-transition" || error.code === "not-found")) return;
    throw error;
  }
}

function toWire(command: { id: string; payload: unknown }): AgentCommand {
  return { ...(command.payload as AgentCommandDraft), commandId: command.id } as AgentCommand;
}
