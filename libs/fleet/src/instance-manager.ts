import { EventEmitter } from "node:events";
import type { AssignMessage, HeartbeatMessage, LifecycleMessage, ProgressMessage, ResultMessage } from "@devenv/protocol";
import { CodedError, type Clock } from "@devenv/core";
import { StoreError, type Agent, type Assignment, type Instance, type InstanceKind, type InstanceState, type JsonObject, type Store, type User } from "@devenv/store";
import type { ManagedHostDirectory } from "./ec2-provisioner.ts";
import type { LocalProvisioner } from "./local-provisioner.ts";
import { provisionerFor, type ProvisionResult, type Provisioner, type Provisioners } from "./provisioner.ts";

/** Why an instance ends; each is written to the audit log under its own action. */
export const endReasons = ["down", "ttl", "idle", "timeout", "retire", "reconcile", "spot", "agent-failure", "provision-failure"] as const;
export type EndReason = (typeof endReasons)[number];

const auditActionOf: Record<EndReason, string> = {
  down: "instance.down",
  ttl: "instance.reap",
  idle: "instance.reap",
  timeout: "instance.timeout",
  retire: "instance.retire",
  reconcile: "instance.host-lost",
  spot: "instance.replaced",
  "agent-failure": "instance.agent-gave-up",
  "provision-failure": "instance.provision-failed",
};

/** The provisioners a control plane runs, by the kind of host they start and by instance kind. */
export interface ProvisionerSet {
  byKind: Provisioners;
  forInstanceKind(kind: InstanceKind): Provisioner;
  /** The static hosts, when a kind uses them: each may have a standing join token. */
  staticHosts?: { standingJoinToken(hostName: string): string | undefined } | undefined;
  /** EC2's view of the fleet's hosts, when a kind uses ec2 (reconciliation, costs). */
  ec2Hosts?: ManagedHostDirectory | undefined;
  /** The local provisioner itself, when a kind uses it (its agents are supervised). */
  local?: LocalProvisioner | undefined;
}

/** Where a snapshot is read from by an agent (signed URLs), as the `assign` command carries it. */
export interface SnapshotLocator {
  locate(snapshotId: string): Promise<AssignMessage["snapshot"]>;
}

export interface InstanceManagerEvents {
  /** Commands wait in the agent's outbox: whoever holds its socket pushes them. */
  deliver: [agentId: string];
  /** These agents may no longer speak for their instance: close their sessions and tunnels. */
  disconnect: [agentIds: string[], reason: string];
  /** An instance changed state (on any replica). */
  "instance-changed": [instance: Instance];
  /** An assignment changed state (on any replica). */
  "assignment-changed": [assignment: Assignment];
}

export type InstanceManagerErrorCode = "not-found" | "conflict" | "bad-request" | "unavailable" | "forbidden";

/** A refused instance operation, with the API's code for it. */
export class InstanceManagerError extends CodedError<InstanceManagerErrorCode> {}

export interface InstanceManagerOptions {
  store: Store;
  clock: Clock;
  provisioners: ProvisionerSet;
  snapshots: SnapshotLocator;
  /** Keyspace every assignment restores into on the host. */
  targetKeyspace?: string;
  defaultTtlMs?: number;
  maxTtlMs?: number;
  /** Live personal instances one person may hold; undefined: no limit. */
  instancesPerUser?: number;
  /** How long a join token stays valid (the host must boot and register within it). */
  joinTokenTtlMs?: number;
  onError?: (what: string, error: unknown, context: { instanceId?: string }) => void;
}

export interface UpInput {
  kind: InstanceKind;
  snapshotId?: string;
  ttlHours?: number;
}

export interface UpResult {
  instance: Instance;
  assignment: Assignment | null;
  /** A one-time token the operator hands to a static host that has no standing token. */
  joinToken?: string;
}

export interface EndInput {
  reason: EndReason;
  /** Who ended it: a user id, or `system:<part>`. */
  actor: string;
  detail?: string;
  /** `failed` keeps the instance (and its reason) for an operator to look at; default `terminated`. */
  to?: "failed" | "terminated";
  /** Extra facts for the audit record. */
  audit?: JsonObject;
  /** The state the caller decided on: if the instance moved since, `conflict` and nothing changes. */
  from?: InstanceState;
  /** With `to: "failed"`: leave the host for an operator to look at (the lifecycle timeout retires it later). */
  keepHost?: boolean;
}

export interface EndResult {
  /** The instance after its first move (draining or failed). */
  instance: Instance;
  /** Settles once the host is terminated and the instance moved on; rejects with the provider's error. */
  hostGone: Promise<void>;
}

const notificationChannels = { instance: "devenv_instance", assignment: "devenv_assignment" } as const;
const endedStates: readonly InstanceState[] = ["draining", "terminated"];
const liveStates: InstanceState[] = ["requested", "provisioning", "registering", "restoring", "ready", "refreshing", "failed", "draining"];

/**
 * The one writer of instance and assignment state. The API, the agents' reports (through
 * the hub's backend), the reaper, timeouts, reconciliation, the local supervisor, spot
 * replacement and refresh roll-outs all call it; it applies the move, its side effects
 * (provision, terminate, revoke, disconnect, audit) and tells every replica through the
 * store's notifications, so others react to events instead of polling.
 */
export class InstanceManager extends EventEmitter<InstanceManagerEvents> {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #provisioners: ProvisionerSet;
  readonly #snapshots: SnapshotLocator;
  readonly #targetKeyspace: string;
  readonly #defaultTtlMs: number;
  readonly #maxTtlMs: number;
  readonly #instancesPerUser: number | undefined;
  readonly #joinTokenTtlMs: number;
  readonly #onError: NonNullable<InstanceManagerOptions["onError"]>;
  readonly #inFlight = new Set<Promise<void>>();
  // the last CQL request count each agent reported: use is its growth, not its value
  readonly #lastRequests = new Map<string, number>();
  readonly #replacing = new Set<string>();
  #unsubscribe: (() => Promise<void>)[] = [];

  constructor(options: InstanceManagerOptions) {
    super();
    this.#store = options.store;
    this.#clock = options.clock;
    this.#provisioners = options.provisioners;
    this.#snapshots = options.snapshots;
    this.#targetKeyspace = options.targetKeyspace ?? "devenv";
    this.#defaultTtlMs = options.defaultTtlMs ?? 12 * 3_600_000;
    this.#maxTtlMs = options.maxTtlMs ?? 14 * 24 * 3_600_000;
    this.#instancesPerUser = options.instancesPerUser;
    this.#joinTokenTtlMs = options.joinTokenTtlMs ?? 15 * 60_000;
    this.#onError = options.onError ?? (() => {});
  }

  /** Listens to every replica's changes (the store's notifications) and re-emits them here. */
  async start(): Promise<void> {
    const follow = <T>(channel: string, read: (id: string) => Promise<T | undefined>, emit: (row: T) => void) =>
      this.#store.notifications.subscribe(channel, (id) => {
        read(id).then(
          (row) => row !== undefined && emit(row),
          (error: unknown) => this.#onError(`reading ${channel} ${id}`, error, {}),
        );
      });
    this.#unsubscribe = [
      await follow(notificationChannels.instance, (id) => this.#store.instances.find(id), (row) => this.emit("instance-changed", row)),
      await follow(notificationChannels.assignment, (id) => this.#store.assignments.get(id).catch(() => undefined), (row) => this.emit("assignment-changed", row)),
    ];
  }

  /** Stops following changes and waits for background provisioning and terminations. */
  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) await unsubscribe();
    this.#unsubscribe = [];
    await this.settled();
  }

  /** Resolves when every background provision/terminate started so far has finished. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  // ---- what people ask for -------------------------------------------------------------

  async up(owner: User, input: UpInput): Promise<UpResult> {
    if (input.kind === "shared" && input.ttlHours !== undefined) throw new InstanceManagerError("bad-request", "ttlHours: shared instances have no TTL");
    const provisioner = this.#provisioners.forInstanceKind(input.kind);
    if (input.kind === "personal" && this.#instancesPerUser !== undefined) {
      const live = await this.#store.instances.list({ ownerId: owner.id, kind: "personal", states: liveStates.filter((s) => s !== "draining" && s !== "failed"), limit: this.#instancesPerUser + 1 });
      if (live.length >= this.#instancesPerUser) {
        throw new InstanceManagerError(
          "conflict",
          `you already have ${live.length} personal instance${live.length === 1 ? "" : "s"} (the limit is ${this.#instancesPerUser}): end one with \`devenv down ID\` first (${live.map((i) => i.id).join(", ")})`,
        );
      }
    }
    const ttlMs = input.ttlHours === undefined ? this.#defaultTtlMs : input.ttlHours * 3_600_000;
    if (input.kind === "personal" && ttlMs > this.#maxTtlMs) {
      throw new InstanceManagerError("bad-request", `ttlHours: at most ${Math.floor(this.#maxTtlMs / 3_600_000)} h`);
    }
    const now = this.#clock.now();
    const { instance, assignment } = await this.#store.transaction(async (tx) => {
      if (input.snapshotId !== undefined) await requireReadySnapshot(tx, input.snapshotId);
      const created = await tx.instances.create({
        ownerId: owner.id,
        kind: input.kind,
        provisioner: provisioner.kind,
        ttlExpiresAt: input.kind === "personal" ? new Date(now + ttlMs) : null,
      });
      const first = input.snapshotId === undefined ? null : await tx.assignments.create({ instanceId: created.id, snapshotId: input.snapshotId });
      const provisioning = await tx.instances.transition(created.id, { to: "provisioning", from: "requested" });
      await tx.audit.record({ actor: owner.id, action: "instance.up", subject: `instance:${created.id}`, detail: { kind: input.kind, snapshotId: input.snapshotId ?? null } });
      await this.#announceInstance(tx, created.id);
      return { instance: provisioning, assignment: first };
    });
    // a static host is there already: the instance is placed on a free one at once
    if (provisioner.kind === "static") return this.#placeOnExistingHost(provisioner, instance, assignment);
    const { plaintext } = await this.#store.joinTokens.issue(instance.id, { ttlMs: this.#joinTokenTtlMs });
    this.#background("provision", instance, async () => {
      const host = await provisioner.provision(instance, plaintext);
      // the agent may have registered already and moved the instance on: only a still-provisioning one moves here
      await this.#move(instance.id, "registering", ["provisioning"], { patch: hostPatch(host) });
      const current = await this.#store.instances.get(instance.id);
      if (current.providerId === null && host.providerId !== undefined) await this.#store.instances.update(instance.id, hostPatch(host));
    });
    return { instance, assignment };
  }

  async #placeOnExistingHost(provisioner: Provisioner, instance: Instance, assignment: Assignment | null): Promise<UpResult> {
    let host: ProvisionResult;
    try {
      host = await provisioner.provision(instance, "");
    } catch (error) {
      await this.#move(instance.id, "failed", ["provisioning"], { detail: `no host: ${messageOf(error)}` });
      throw new InstanceManagerError("unavailable", messageOf(error), { cause: error });
    }
    const standing = host.providerId === undefined ? undefined : this.#provisioners.staticHosts?.standingJoinToken(host.providerId);
    const placed = await this.#store.transaction(async (tx) => {
      const moved = await tx.instances.transition(instance.id, { to: "registering", from: "provisioning", patch: hostPatch(host) });
      await this.#announceInstance(tx, instance.id);
      return moved;
    });
    // two requests may have picked the same free host: the later instance gives way
    const rivals = (await this.#store.instances.list({ kind: instance.kind, states: liveStates.filter((s) => s !== "draining") })).filter(
      (other) => other.provisioner === placed.provisioner && other.providerId === placed.providerId && other.id !== placed.id && other.createdAt <= placed.createdAt,
    );
    if (rivals.length > 0) {
      await this.end(placed, { reason: "provision-failure", actor: "system:fleet", detail: `host ${placed.providerId} was taken by instance ${rivals[0]!.id} meanwhile` });
      throw new InstanceManagerError("conflict", `host ${placed.providerId} was taken by instance ${rivals[0]!.id} meanwhile; try again`);
    }
    const { plaintext } = await this.#store.joinTokens.issue(instance.id, { ttlMs: this.#joinTokenTtlMs, ...(standing ? { plaintext: standing } : {}) });
    return { instance: placed, assignment, ...(standing ? {} : { joinToken: plaintext }) };
  }

  async extendTtl(actor: User, instance: Instance, hours: number): Promise<Instance> {
    if (instance.kind !== "personal") throw new InstanceManagerError("bad-request", "only personal instances have a TTL to extend");
    if (instance.state === "terminated" || instance.state === "draining" || instance.state === "failed") {
      throw new InstanceManagerError("conflict", `instance ${instance.id} is ${instance.state}; start a new one instead`);
    }
    const now = this.#clock.now();
    const from = Math.max(now, instance.ttlExpiresAt ? Date.parse(instance.ttlExpiresAt) : now);
    const until = from + hours * 3_600_000;
    if (until > now + this.#maxTtlMs) {
      throw new InstanceManagerError(
        "bad-request",
        `hours: the TTL would end ${new Date(until).toISOString()}, past the limit of ${Math.floor(this.#maxTtlMs / 3_600_000)} h from now; ask for fewer hours`,
      );
    }
    return this.#store.transaction(async (tx) => {
      const updated = await tx.instances.update(instance.id, { ttlExpiresAt: new Date(until) });
      await tx.audit.record({ actor: actor.id, action: "instance.extend-ttl", subject: `instance:${instance.id}`, detail: { hours, ttlExpiresAt: updated.ttlExpiresAt } });
      await this.#announceInstance(tx, instance.id);
      return updated;
    });
  }

  /** Records the assignment, then hands it to the instance's agent when one is registered. */
  async assign(actor: User | string, instance: Instance, snapshotId: string): Promise<{ assignment: Assignment; delivered: boolean }> {
    const assignment = await this.#store.transaction(async (tx) => {
      await requireReadySnapshot(tx, snapshotId);
      const created = await tx.assignments.create({ instanceId: instance.id, snapshotId });
      await tx.audit.record({ actor: actorId(actor), action: "instance.assign", subject: `instance:${instance.id}`, detail: { snapshotId, assignmentId: created.id } });
      await this.#announceAssignment(tx, created.id);
      return created;
    });
    const delivered = await this.#dispatch(assignment);
    return { assignment: delivered ?? assignment, delivered: delivered !== undefined };
  }

  /**
   * Ends an instance, whatever the reason: the instance moves to draining (or failed), its
   * agents' credentials are revoked and their sessions and tunnels closed, an audit record
   * is written, then the provider terminates the host and the instance is terminated.
   * An instance already on its way out is returned as it is.
   */
  async end(instance: Instance, input: EndInput): Promise<EndResult> {
    const to = input.to ?? "terminated";
    const current = await this.#store.instances.get(instance.id);
    if (input.from !== undefined && input.from !== current.state) {
      throw new StoreError("conflict", `instance ${current.id} is ${current.state}, not ${input.from}; reload it and decide again`);
    }
    if (current.state === "terminated" || (to === "failed" && current.state === "failed")) return { instance: current, hostGone: Promise.resolve() };
    const first: InstanceState = to === "failed" ? "failed" : "draining";
    const { moved, agentIds } = await this.#store.transaction(async (tx) => {
      const next = current.state === first ? current : await tx.instances.transition(current.id, { to: first, from: current.state, detail: input.detail ?? null });
      const agents = await tx.agents.list({ instanceId: current.id });
      // a host being ended gets no more work: its credentials stop working at once
      for (const agent of agents) await tx.agents.revoke(agent.id);
      await tx.audit.record({
        actor: input.actor,
        action: auditActionOf[input.reason],
        subject: `instance:${current.id}`,
        detail: { reason: input.reason, from: current.state, to, ownerId: current.ownerId, detail: input.detail ?? null, ...input.audit },
      });
      await this.#announceInstance(tx, current.id);
      return { moved: next, agentIds: agents.map((agent) => agent.id) };
    });
    if (agentIds.length > 0) this.emit("disconnect", agentIds, `instance ${current.id} ended (${input.reason})`);
    if (to === "failed" && input.keepHost) return { instance: moved, hostGone: Promise.resolve() };
    const hostGone = this.#track(async () => {
      try {
        await provisionerFor(this.#provisioners.byKind, moved).terminate(moved);
      } catch (error) {
        // failed, not draining: the lifecycle timeout retires it (and tries the host again) after its grace
        await this.#move(moved.id, "failed", ["draining"], { detail: `terminating the host failed: ${messageOf(error)}`.slice(0, 2000) });
        throw error;
      }
      if (to === "terminated") await this.#move(moved.id, "terminated", ["draining"], { detail: input.detail });
    });
    return { instance: moved, hostGone };
  }

  /** Ends an instance on a person's request; the host is terminated in the background. */
  async down(actor: User, instance: Instance): Promise<Instance> {
    if (endedStates.includes(instance.state)) return instance;
    const { instance: draining, hostGone } = await this.end(instance, { reason: "down", actor: actor.id, detail: `ended by ${actor.name}` });
    hostGone.catch((error: unknown) => this.#onError("terminating the host", error, { instanceId: instance.id }));
    return draining;
  }

  /**
   * Assigns the snapshot and resolves once the instance's agent reports the restore done,
   * by the assignment's change events (from any replica). A retried roll-out waits for the
   * restore its first attempt started.
   */
  async rollOut(actor: string, instanceId: string, snapshotId: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
    const instance = await this.#store.instances.get(instanceId);
    const latest = await this.#store.assignments.latestForInstance(instanceId);
    const inFlight = latest?.snapshotId === snapshotId && ["pending", "sent", "running", "succeeded"].includes(latest.state) ? latest : undefined;
    const assignment = inFlight ?? (await this.assign(actor, instance, snapshotId)).assignment;
    const finished = await this.#waitFor("assignment-changed", (a) => a.id === assignment.id && isFinished(a.state), () => this.#store.assignments.get(assignment.id), options);
    if (finished.state !== "succeeded") throw new Error(finished.error ?? `assignment ${finished.state}`);
  }

  // ---- what agents report (through the hub's backend) -------------------------------------

  /** An agent spent its join token: the instance's host is there. */
  async agentRegistered(agent: Agent): Promise<void> {
    await this.#move(agent.instanceId, "registering", ["provisioning"]);
  }

  /** An agent (re)connected: the assignment that waited for it goes out. */
  async agentConnected(agent: Agent): Promise<void> {
    const latest = await this.#store.assignments.latestForInstance(agent.instanceId);
    if (latest?.state === "pending") await this.#dispatch(latest);
  }

  async agentLifecycle(agent: Agent, lifecycle: LifecycleMessage): Promise<void> {
    switch (lifecycle.state) {
      case "downloading":
      case "restoring":
        await this.#move(agent.instanceId, "restoring", ["registering"]);
        await this.#move(agent.instanceId, "refreshing", ["ready"]);
        return;
      case "ready":
        await this.#move(agent.instanceId, "ready", ["registering", "restoring", "refreshing"]);
        return;
      case "idle": {
        // registered with nothing to restore: the instance is ready as it is
        const latest = await this.#store.assignments.latestForInstance(agent.instanceId);
        if (latest === undefined || isFinished(latest.state)) await this.#move(agent.instanceId, "ready", ["registering", "restoring", "refreshing"]);
        return;
      }
      case "interrupting": {
        const instance = await this.#store.instances.get(agent.instanceId);
        await this.#store.audit.record({ actor: `agent:${agent.id}`, action: "instance.interruption", subject: `instance:${instance.id}`, detail: { detail: lifecycle.detail ?? null } });
        this.#background("spot replacement", instance, () => this.#replaceInterrupted(instance));
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

  /** Idleness is judged from real database use, not from an open socket. */
  async agentHeartbeat(agent: Agent, health: HeartbeatMessage["health"]): Promise<void> {
    const requests = health.cqlRequests;
    const previous = this.#lastRequests.get(agent.id);
    if (requests !== undefined) this.#lastRequests.set(agent.id, requests);
    const used = (health.clientConnections ?? 0) > 0 || (requests !== undefined && previous !== undefined && requests > previous);
    if (used) await this.#store.instances.touch(agent.instanceId);
  }

  /** Progress of an assignment of the agent's own instance; any other is ignored. */
  async agentProgress(agent: Agent, progress: ProgressMessage): Promise<void> {
    const { type: _type, assignmentId, ...figures } = progress;
    if (!(await this.#ownsAssignment(agent, assignmentId))) return;
    await this.#store.assignments.update(assignmentId, { state: "running", progress: figures as unknown as JsonObject }).then(
      () => this.#announceAssignment(this.#store, assignmentId),
      ignoreFinished,
    );
  }

  async agentResult(agent: Agent, result: ResultMessage): Promise<void> {
    if (!(await this.#ownsAssignment(agent, result.assignmentId))) return;
    const done = result.ok ? this.#store.assignments.succeed(result.assignmentId) : this.#store.assignments.fail(result.assignmentId, result.error ?? "restore failed");
    await done.then(() => this.#announceAssignment(this.#store, result.assignmentId), ignoreFinished);
  }

  /** The hub delivered an assign command: the assignment is on its way. */
  async assignmentDelivered(agent: Agent, assignmentId: string): Promise<void> {
    if (!(await this.#ownsAssignment(agent, assignmentId))) return;
    await this.#store.assignments.update(assignmentId, { state: "sent" }).then(() => this.#announceAssignment(this.#store, assignmentId), ignoreFinished);
  }

  // ---- internals ------------------------------------------------------------------------

  /**
   * A spot host got its two-minute notice: a replacement starts for the same owner with
   * the same snapshot (once per instance, however often the notice repeats); `mine`
   * tunnels move to it once it is ready, and the old one is ended.
   */
  async #replaceInterrupted(instance: Instance): Promise<void> {
    if (instance.kind !== "personal" || endedStates.includes(instance.state) || this.#replacing.has(instance.id)) return;
    const earlier = await this.#store.audit.list({ subject: `instance:${instance.id}`, action: "instance.replace", limit: 1 });
    if (earlier.length > 0) return;
    this.#replacing.add(instance.id);
    try {
      const owner = await this.#store.users.get(instance.ownerId);
      const snapshotId = instance.currentSnapshotId ?? instance.snapshotId ?? undefined;
      const ttlHours = instance.ttlExpiresAt ? Math.max(1, Math.ceil((Date.parse(instance.ttlExpiresAt) - this.#clock.now()) / 3_600_000)) : undefined;
      const { instance: replacement } = await this.up(owner, { kind: "personal", snapshotId, ttlHours });
      await this.#store.audit.record({ actor: "system:spot", action: "instance.replace", subject: `instance:${instance.id}`, detail: { replacement: replacement.id } });
      const settled = await this.#waitFor(
        "instance-changed",
        (i) => i.id === replacement.id && (i.state === "ready" || i.state === "failed" || i.state === "terminated"),
        () => this.#store.instances.get(replacement.id),
        { timeoutMs: 30 * 60_000 },
      );
      if (settled.state !== "ready") return;
      await this.end(instance, { reason: "spot", actor: "system:spot", detail: `interrupted; replaced by ${replacement.id}`, audit: { replacement: replacement.id } });
    } finally {
      this.#replacing.delete(instance.id);
    }
  }

  /**
   * Waits for the first event that `done` accepts, having read the current row once after
   * subscribing (so a change made just before is not missed).
   */
  #waitFor<E extends "instance-changed" | "assignment-changed", T extends InstanceManagerEvents[E][0]>(
    event: E,
    done: (row: T) => boolean,
    read: () => Promise<T>,
    options: { signal?: AbortSignal; timeoutMs: number },
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const listener = (row: T) => {
        if (!done(row)) return;
        finish();
        resolve(row);
      };
      const onAbort = () => {
        finish();
        reject(options.signal?.reason instanceof Error ? options.signal.reason : new Error("aborted"));
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`no result within ${Math.round(options.timeoutMs / 60_000)} min`));
      }, options.timeoutMs);
      timer.unref();
      const finish = () => {
        clearTimeout(timer);
        this.off(event, listener as never);
        options.signal?.removeEventListener("abort", onAbort);
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.on(event, listener as never);
      read().then(listener, (error: unknown) => {
        finish();
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /** Queues the assign command in the agent's outbox; undefined while no agent is registered. */
  async #dispatch(assignment: Assignment): Promise<Assignment | undefined> {
    if (assignment.state !== "pending") return undefined;
    const [agent] = await this.#store.agents.list({ instanceId: assignment.instanceId });
    if (agent === undefined) return undefined;
    const snapshot = await this.#snapshots.locate(assignment.snapshotId);
    const draft: Omit<AssignMessage, "commandId"> = { type: "assign", assignmentId: assignment.id, idempotencyKey: assignment.id, snapshot, targetKeyspace: this.#targetKeyspace };
    await this.#store.commands.enqueue({ agentId: agent.id, type: draft.type, payload: draft as unknown as JsonObject, idempotencyKey: assignment.id });
    const sent = await this.#store.assignments.update(assignment.id, { state: "sent" });
    await this.#announceAssignment(this.#store, assignment.id);
    this.emit("deliver", agent.id);
    return sent;
  }

  async #ownsAssignment(agent: Agent, assignmentId: string): Promise<boolean> {
    const assignment = await this.#store.assignments.get(assignmentId).catch(() => undefined);
    return assignment?.instanceId === agent.instanceId;
  }

  /** Moves the instance when it is in one of `from`; a state that moved on already is left alone. */
  async #move(instanceId: string, to: InstanceState, from: readonly InstanceState[], options: { detail?: string; patch?: Parameters<Store["instances"]["update"]>[1] } = {}): Promise<void> {
    const instance = await this.#store.instances.get(instanceId);
    if (!from.includes(instance.state)) return;
    try {
      await this.#store.transaction(async (tx) => {
        await tx.instances.transition(instanceId, { to, from: instance.state, detail: options.detail ?? null, patch: options.patch });
        await this.#announceInstance(tx, instanceId);
      });
    } catch (error) {
      if (error instanceof StoreError && (error.code === "conflict" || error.code === "invalid-transition")) return;
      throw error;
    }
  }

  // sent on commit: other replicas read the row only once it is there
  async #announceInstance(store: Store, instanceId: string): Promise<void> {
    await store.notifications.publish(notificationChannels.instance, instanceId);
  }

  async #announceAssignment(store: Store, assignmentId: string): Promise<void> {
    await store.notifications.publish(notificationChannels.assignment, assignmentId);
  }

  #track(work: () => Promise<void>): Promise<void> {
    const run = work();
    const tracked = run.catch(() => {}).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    return run;
  }

  /** Runs work in the background; a failure fails the instance with the reason. */
  #background(what: string, instance: Instance, work: () => Promise<void>): void {
    this.#track(work).catch(async (error: unknown) => {
      this.#onError(`instance ${what} failed`, error, { instanceId: instance.id });
      if (what !== "provision") return;
      const current = await this.#store.instances.find(instance.id);
      if (current === undefined || endedStates.includes(current.state) || current.state === "failed") return;
      await this.end(current, { reason: "provision-failure", actor: "system:fleet", to: "failed", detail: `${what} failed: ${messageOf(error)}`.slice(0, 2000) }).catch(() => {});
    });
  }
}

function hostPatch(host: ProvisionResult): { providerId?: string; hostAddress?: string; hostPort?: number } {
  return { providerId: host.providerId, hostAddress: host.hostAddress, hostPort: host.hostPort };
}

function isFinished(state: Assignment["state"]): boolean {
  return state === "succeeded" || state === "failed" || state === "cancelled";
}

function actorId(actor: User | string): string {
  return typeof actor === "string" ? actor : actor.id;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A report about an assignment that is already finished (redelivered, or cancelled meanwhile) changes nothing. */
function ignoreFinished(error: unknown): void {
  if (error instanceof StoreError && (error.code === "invalid-transition" || error.code === "not-found")) return;
  throw error;
}

async function requireReadySnapshot(store: Store, snapshotId: string): Promise<void> {
  const snapshot = await store.snapshots.find(snapshotId);
  if (snapshot === undefined || snapshot.status === "deleted") throw new InstanceManagerError("not-found", `snapshot ${snapshotId} not found; see devenv snapshots ls`);
  if (snapshot.status !== "ready") throw new InstanceManagerError("conflict", `snapshot ${snapshotId} is ${snapshot.status}, not ready; wait for it or pick another`);
}
