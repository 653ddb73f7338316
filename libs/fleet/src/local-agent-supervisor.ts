import { backoffDelay } from "@devenv/core";
import { everyPage, StoreError, type Instance, type InstanceState, type Store } from "@devenv/store";
import type { InstanceManager } from "./instance-manager.ts";
import type { LocalProvisioner } from "./local-provisioner.ts";
import { PeriodicPass } from "./periodic-pass.ts";

/** How often an agent that keeps dying is started again before the supervisor gives up. */
export interface AgentRestartPolicy {
  /** Wait after noticing the exit before the first restart; doubles with each restart inside the window. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Restarts allowed inside `windowMs`; one more exit fails the instance. */
  maxRestarts: number;
  windowMs: number;
}

export const defaultAgentRestartPolicy: AgentRestartPolicy = {
  initialBackoffMs: 1_000,
  maxBackoffMs: 60_000,
  maxRestarts: 5,
  windowMs: 10 * 60_000,
};

export type AgentSupervisorEvent =
  | { kind: "exited"; instanceId: string; pid: number; restartInMs: number }
  | { kind: "restarted"; instanceId: string; pid: number; previousPid: number; restartsInWindow: number }
  | { kind: "gave-up"; instanceId: string; pid: number; restartsInWindow: number }
  /** A check or restart that threw (of one instance, or of the whole pass: the store did not answer). */
  | { kind: "error"; instanceId: string | undefined; error: string };

export interface LocalAgentSupervisorOptions {
  provisioner: LocalProvisioner;
  /** Says which local instances should have an agent running; records restarts. */
  store: Store;
  /** Fails an instance whose agent keeps exiting. */
  instances: InstanceManager;
  /** How often agents are checked; default 2 s. */
  intervalMs?: number;
  policy?: Partial<AgentRestartPolicy>;
  onEvent?: (event: AgentSupervisorEvent) => void;
  now?: () => number;
}

/** States in which an instance's agent should be running (draining: `terminate` is stopping it). */
const supervisedStates: InstanceState[] = ["provisioning", "registering", "restoring", "ready", "refreshing"];

const actor = "system:agent-supervisor";

/**
 * Restarts local instances' agents that exited without being asked to, as systemd does
 * for an agent on an EC2 host (`Restart=on-failure`). The agents are detached and
 * outlive the control plane, so the supervisor works from what is on disk and in the
 * process table: a control plane started again adopts the agents already running and
 * restarts the ones that died while it was down. A restart reuses the agent's state dir,
 * so the agent reconnects with its credential and resumes an interrupted restore from
 * its journal. An agent that keeps exiting is given up on: its instance is failed.
 */
export class LocalAgentSupervisor {
  readonly #options: LocalAgentSupervisorOptions;
  readonly #policy: AgentRestartPolicy;
  readonly #now: () => number;
  readonly #onEvent: (event: AgentSupervisorEvent) => void;
  // when each exited agent was first seen gone, by instance id and pid
  readonly #noticed = new Map<string, { pid: number; at: number }>();
  readonly #loop: PeriodicPass;

  constructor(options: LocalAgentSupervisorOptions) {
    this.#options = options;
    this.#policy = { ...defaultAgentRestartPolicy, ...options.policy };
    if (!(this.#policy.maxRestarts >= 0) || !(this.#policy.initialBackoffMs >= 0)) throw new Error("the agent restart policy needs maxRestarts >= 0 and initialBackoffMs >= 0");
    this.#now = options.now ?? Date.now;
    this.#onEvent = options.onEvent ?? (() => {});
    this.#loop = new PeriodicPass({
      intervalMs: options.intervalMs ?? 2_000,
      pass: () => this.checkOnce(),
      onError: (error) => this.#onEvent({ kind: "error", instanceId: undefined, error: messageOf(error) }),
    });
  }

  start(): void {
    this.#loop.start();
  }

  /** Stops checking; waits for a pass in progress (a restart it began completes). */
  async stop(): Promise<void> {
    await this.#loop.stop();
  }

  /** One pass over the local instances that should have an agent; returns what it did. */
  async checkOnce(): Promise<AgentSupervisorEvent[]> {
    const events: AgentSupervisorEvent[] = [];
    const emit = (event: AgentSupervisorEvent) => {
      events.push(event);
      this.#onEvent(event);
    };
    const seen = new Set<string>();
    for await (const instance of everyPage((page) => this.#options.store.instances.list({ states: supervisedStates, ...page }))) {
      if (instance.provisioner !== "local") continue;
      seen.add(instance.id);
      try {
        await this.#check(instance, emit);
      } catch (error) {
        emit({ kind: "error", instanceId: instance.id, error: messageOf(error) });
      }
    }
    for (const id of this.#noticed.keys()) if (!seen.has(id)) this.#noticed.delete(id);
    return events;
  }

  async #check(instance: Instance, emit: (event: AgentSupervisorEvent) => void): Promise<void> {
    const { provisioner } = this.#options;
    const status = provisioner.agentStatus(instance);
    if (status.state !== "exited") {
      this.#noticed.delete(instance.id);
      return;
    }
    const now = this.#now();
    const inWindow = provisioner.agentRestarts(instance).filter((at) => now - at < this.#policy.windowMs).length;
    if (inWindow >= this.#policy.maxRestarts) {
      await this.#giveUp(instance, status.pid, inWindow);
      this.#noticed.delete(instance.id);
      emit({ kind: "gave-up", instanceId: instance.id, pid: status.pid, restartsInWindow: inWindow });
      return;
    }
    const backoffMs = backoffDelay({ initialMs: this.#policy.initialBackoffMs, maxMs: this.#policy.maxBackoffMs, jitter: "none" }, inWindow);
    let noticed = this.#noticed.get(instance.id);
    if (noticed?.pid !== status.pid) {
      noticed = { pid: status.pid, at: now };
      this.#noticed.set(instance.id, noticed);
      emit({ kind: "exited", instanceId: instance.id, pid: status.pid, restartInMs: backoffMs });
    }
    if (now - noticed.at < backoffMs) return;
    // the catalogue may have moved on (a `down`) since the list was read
    const current = await this.#options.store.instances.get(instance.id);
    if (!supervisedStates.includes(current.state)) return;
    const restarted = await provisioner.restartAgent(instance, { now, keepLast: this.#policy.maxRestarts + 1 });
    this.#noticed.delete(instance.id);
    if (restarted === undefined) return;
    await this.#options.store.audit.record({
      actor,
      action: "instance.agent-restarted",
      subject: `instance:${instance.id}`,
      detail: { pid: restarted.pid, previousPid: restarted.previousPid, restartsInWindow: inWindow + 1 },
    });
    emit({ kind: "restarted", instanceId: instance.id, ...restarted, restartsInWindow: inWindow + 1 });
  }

  async #giveUp(instance: Instance, pid: number, restarts: number): Promise<void> {
    const minutes = Math.round(this.#policy.windowMs / 60_000);
    const detail = `its agent exited ${restarts + 1} times within ${minutes} min; not restarted again (see ${this.#options.provisioner.dirOf(instance)}/agent.log)`;
    try {
      await this.#options.instances.end(instance, { reason: "agent-failure", actor, detail, to: "failed", keepHost: true, from: instance.state, audit: { pid, restartsInWindow: restarts } });
    } catch (error) {
      // it moved on meanwhile (a `down`, say): nothing to give up on
      if (error instanceof StoreError && (error.code === "conflict" || error.code === "invalid-transition")) return;
      throw error;
    }
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
