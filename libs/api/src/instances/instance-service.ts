import type { Clock } from "@devenv/core";
import type { Assignment, Instance, Store, User } from "@devenv/store";
import { ApiError } from "../api-error.ts";
import type { SnapshotAccess } from "../blobs/snapshot-access.ts";
import type { AgentCommandSender, Provisioner } from "./provisioner.ts";

export interface InstanceServiceOptions {
  store: Store;
  clock: Clock;
  /** Absent: `up` is refused with `unavailable` (nothing could start a host). */
  provisioner?: Provisioner;
  snapshotAccess: SnapshotAccess;
  /** Absent until the agent hub is attached: assignments then wait for the agent. */
  commands?: () => AgentCommandSender | undefined;
  /** Keyspace every assignment restores into on the host. */
  targetKeyspace?: string;
  /** Default lifetime of a personal instance. */
  defaultTtlHours?: number;
  maxTtlHours?: number;
  /** How long a join token stays valid (the host must boot and register within it). */
  joinTokenTtlMs?: number;
  onBackgroundError?: (what: string, instance: Instance, error: unknown) => void;
}

/**
 * Instance operations behind the API: records first, side effects after. `up` creates the
 * instance, its join token and (optionally) its first assignment in one transaction, then
 * provisions the host in the background; `down` drains and terminates the same way.
 */
export class InstanceService {
  readonly #o: Required<Omit<InstanceServiceOptions, "provisioner" | "commands" | "onBackgroundError">> &
    Pick<InstanceServiceOptions, "provisioner" | "commands" | "onBackgroundError">;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: InstanceServiceOptions) {
    this.#o = { targetKeyspace: "devenv", defaultTtlHours: 12, maxTtlHours: 24 * 14, joinTokenTtlMs: 15 * 60_000, ...options };
  }

  async up(owner: User, input: { kind: "personal" | "shared"; snapshotId?: string; ttlHours?: number }): Promise<{ instance: Instance; assignment: Assignment | null }> {
    const provisioner = this.#o.provisioner;
    if (provisioner === undefined) throw new ApiError("unavailable", "this control plane has no provisioner configured, so it cannot start hosts");
    if (input.kind === "shared" && input.ttlHours !== undefined) throw new ApiError("bad-request", "ttlHours: shared instances have no TTL");
    const now = this.#o.clock.date();
    const ttlHours = input.ttlHours ?? this.#o.defaultTtlHours;
    const { instance, joinToken, assignment } = await this.#o.store.transaction(async (tx) => {
      if (input.snapshotId !== undefined) await requireReadySnapshot(tx, input.snapshotId);
      const created = await tx.instances.create({
        ownerId: owner.id,
        kind: input.kind,
        provisioner: provisioner.kind,
        ttlExpiresAt: input.kind === "personal" ? new Date(now.getTime() + ttlHours * 3_600_000) : null,
      });
      const issued = await tx.joinTokens.issue(created.id, { ttlMs: this.#o.joinTokenTtlMs });
      const first = input.snapshotId === undefined ? null : await tx.assignments.create({ instanceId: created.id, snapshotId: input.snapshotId });
      const provisioning = await tx.instances.transition(created.id, { to: "provisioning", from: "requested" });
      await tx.audit.record({ actor: owner.id, action: "instance.up", subject: `instance:${created.id}`, detail: { kind: input.kind, snapshotId: input.snapshotId ?? null } });
      return { instance: provisioning, joinToken: issued.plaintext, assignment: first };
    });
    this.#background("provision", instance, async () => {
      const host = (await provisioner.provision(instance, joinToken)) ?? {};
      // the agent may have registered already and moved the instance on: only a still-provisioning one moves here
      await this.#o.store.instances
        .transition(instance.id, { to: "registering", from: "provisioning", patch: { providerId: host.providerId, hostAddress: host.hostAddress, hostPort: host.hostPort } })
        .catch(async (error: unknown) => {
          if ((error as { code?: string }).code !== "conflict") throw error;
          await this.#o.store.instances.update(instance.id, { providerId: host.providerId, hostAddress: host.hostAddress, hostPort: host.hostPort });
        });
    });
    return { instance, assignment };
  }

  async down(actor: User, instance: Instance): Promise<Instance> {
    if (instance.state === "terminated" || instance.state === "draining") return instance;
    const draining = await this.#o.store.transaction(async (tx) => {
      const moved = await tx.instances.transition(instance.id, { to: "draining", from: instance.state, detail: `ended by ${actor.name}` });
      // its agent's credential stops working at once: a host being ended gets no more work
      for (const agent of await tx.agents.list({ instanceId: instance.id })) await tx.agents.revoke(agent.id);
      await tx.audit.record({ actor: actor.id, action: "instance.down", subject: `instance:${instance.id}`, detail: null });
      return moved;
    });
    const provisioner = this.#o.provisioner;
    this.#background("terminate", draining, async () => {
      if (provisioner !== undefined && provisioner.kind === draining.provisioner) await provisioner.terminate(draining);
      await this.#o.store.instances.transition(draining.id, { to: "terminated", from: "draining" });
    });
    return draining;
  }

  async extendTtl(actor: User, instance: Instance, hours: number): Promise<Instance> {
    if (instance.kind !== "personal") throw new ApiError("bad-request", "only personal instances have a TTL to extend");
    if (instance.state === "terminated" || instance.state === "draining" || instance.state === "failed") {
      throw new ApiError("conflict", `instance ${instance.id} is ${instance.state}; start a new one instead`);
    }
    const now = this.#o.clock.now();
    const from = Math.max(now, instance.ttlExpiresAt ? Date.parse(instance.ttlExpiresAt) : now);
    const until = from + hours * 3_600_000;
    const limit = now + this.#o.maxTtlHours * 3_600_000;
    if (until > limit) {
      throw new ApiError("bad-request", `hours: the TTL would end ${new Date(until).toISOString()}, past the limit of ${this.#o.maxTtlHours} h from now; ask for fewer hours`);
    }
    const updated = await this.#o.store.instances.update(instance.id, { ttlExpiresAt: new Date(until) });
    await this.#o.store.audit.record({ actor: actor.id, action: "instance.extend-ttl", subject: `instance:${instance.id}`, detail: { hours, ttlExpiresAt: updated.ttlExpiresAt } });
    return updated;
  }

  /** Records the assignment, then hands it to the instance's agent when one is registered and a hub is attached. */
  async assign(actor: User, instance: Instance, snapshotId: string): Promise<{ assignment: Assignment; delivered: boolean }> {
    const assignment = await this.#o.store.transaction(async (tx) => {
      await requireReadySnapshot(tx, snapshotId);
      const created = await tx.assignments.create({ instanceId: instance.id, snapshotId });
      await tx.audit.record({ actor: actor.id, action: "instance.assign", subject: `instance:${instance.id}`, detail: { snapshotId, assignmentId: created.id } });
      return created;
    });
    const delivered = await this.dispatch(assignment);
    return { assignment: delivered ?? assignment, delivered: delivered !== undefined };
  }

  /**
   * Sends a pending assignment to the instance's agent. Returns the updated assignment, or
   * undefined when it must wait (no agent registered yet, or no hub attached). The
   * assignment id is the idempotency key, so a repeated dispatch is effective once.
   */
  async dispatch(assignment: Assignment): Promise<Assignment | undefined> {
    const sender = this.#o.commands?.();
    if (sender === undefined || assignment.state !== "pending") return undefined;
    const [agent] = await this.#o.store.agents.list({ instanceId: assignment.instanceId });
    if (agent === undefined) return undefined;
    const snapshot = await this.#o.snapshotAccess.locate(assignment.snapshotId);
    await sender.sendCommand(
      agent.id,
      { type: "assign", assignmentId: assignment.id, idempotencyKey: assignment.id, snapshot, targetKeyspace: this.#o.targetKeyspace },
      { idempotencyKey: assignment.id },
    );
    return this.#o.store.assignments.update(assignment.id, { state: "sent" });
  }

  /** For the agent hub: once an instance's agent registers, its waiting assignment goes out. */
  async dispatchPending(instanceId: string): Promise<Assignment | undefined> {
    const latest = await this.#o.store.assignments.latestForInstance(instanceId);
    if (latest === undefined || latest.state !== "pending") return undefined;
    return this.dispatch(latest);
  }

  /** Resolves when every background provision/terminate started so far has finished. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  #background(what: string, instance: Instance, work: () => Promise<void>): void {
    const run = work().catch(async (error: unknown) => {
      this.#o.onBackgroundError?.(what, instance, error);
      const detail = `${what} failed: ${error instanceof Error ? error.message : String(error)}`.slice(0, 2000);
      await this.#o.store.instances.transition(instance.id, { to: "failed", detail }).catch(() => {});
    });
    const tracked = run.finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }
}

async function requireReadySnapshot(store: Store, snapshotId: string): Promise<void> {
  const snapshot = await store.snapshots.find(snapshotId);
  if (snapshot === undefined || snapshot.status === "deleted") throw new ApiError("not-found", `snapshot ${snapshotId} not found; see snapshots.list`);
  if (snapshot.status !== "ready") throw new ApiError("conflict", `snapshot ${snapshotId} is ${snapshot.status}, not ready; wait for it or pick another`);
}
