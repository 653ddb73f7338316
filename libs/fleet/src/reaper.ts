import type { Clock } from "@devenv/core";
import type { AuditEvent, Instance, InstanceState, Store } from "@devenv/store";
import { everyPage, StoreError } from "@devenv/store";
import type { InstanceManager } from "./instance-manager.ts";
import { formatDuration } from "./lifecycle-timeouts.ts";

export type ReapReason = "ttl" | "idle";

export interface ReaperOptions {
  /** Read only: every change goes through the instance manager. */
  store: Store;
  instances: InstanceManager;
  clock: Clock;
  /**
   * Tells the owner their instance goes away at `at` (a Slack message, a mail). Called once
   * per instance, reason and deadline: an extended TTL or resumed activity sets a new
   * deadline, which gets its own warning.
   */
  warn: (instance: Instance, reason: ReapReason, at: Date) => void | Promise<void>;
  /** A personal instance with no database use for this long is reaped (default 2 h). */
  idleLimitMs?: number;
  /** How long before the deadline the owner is warned (default 30 min). */
  warnBeforeMs?: number;
  /** When the warning went out late (the reaper was down), the least time the owner still gets (default 5 min). */
  minNoticeMs?: number;
  /** Who the audit log names (default "system:reaper"). */
  actor?: string;
}

export interface ReapOutcome {
  instanceId: string;
  action: "warned" | "reaped";
  reason: ReapReason;
  deadline: string;
  /** A reaped instance whose host could not be terminated is left failed; the lifecycle timeout retries it. */
  error?: string;
}

const warningAction = "instance.reap-warning";
const minute = 60_000;

// TTL ends whatever the instance does; idleness only counts once it serves a database
const ttlStates: InstanceState[] = ["requested", "provisioning", "registering", "restoring", "ready", "refreshing", "failed"];
const idleStates: ReadonlySet<InstanceState> = new Set(["ready", "refreshing"]);

/**
 * One pass of the reaper over personal instances (shared ones are never reaped): an
 * instance whose TTL ends, or whose database saw no use (`lastActivityAt`, which the agent
 * sets from Cassandra's own request metrics) for the idle limit, is first announced to its
 * owner, then ended through the instance manager (host terminated, agent revoked).
 */
export async function reapInstances(options: ReaperOptions): Promise<ReapOutcome[]> {
  const now = options.clock.now();
  const warnBeforeMs = options.warnBeforeMs ?? 30 * minute;
  const outcomes: ReapOutcome[] = [];
  const instances = everyPage((page) => options.store.instances.list({ kind: "personal", states: ttlStates, ...page }));

  for await (const instance of instances) {
    if (instance.kind !== "personal") continue;
    const due = earliestDeadline(instance, options.idleLimitMs ?? 2 * 60 * minute);
    if (!due || now < due.deadline.getTime() - warnBeforeMs) continue;
    const deadline = due.deadline.toISOString();

    const warning = await findWarning(options.store, instance.id, due.reason, deadline);
    if (!warning) {
      await options.warn(instance, due.reason, due.deadline);
      await options.store.audit.record({
        actor: options.actor ?? "system:reaper",
        action: warningAction,
        subject: `instance:${instance.id}`,
        detail: { reason: due.reason, deadline, warnedAt: new Date(now).toISOString(), ownerId: instance.ownerId },
      });
      outcomes.push({ instanceId: instance.id, action: "warned", reason: due.reason, deadline });
      continue;
    }
    const warnedAt = Date.parse(String(warning.detail?.warnedAt ?? warning.at));
    const reapAt = Math.max(due.deadline.getTime(), warnedAt + (options.minNoticeMs ?? 5 * minute));
    if (now < reapAt) continue;
    const outcome = await reap(options, instance, due.reason, deadline, describe(instance, due.reason, options.idleLimitMs ?? 2 * 60 * minute));
    if (outcome) outcomes.push(outcome);
  }
  return outcomes;
}

function earliestDeadline(instance: Instance, idleLimitMs: number): { reason: ReapReason; deadline: Date } | undefined {
  const deadlines: { reason: ReapReason; deadline: Date }[] = [];
  if (instance.ttlExpiresAt) deadlines.push({ reason: "ttl", deadline: new Date(instance.ttlExpiresAt) });
  if (idleStates.has(instance.state)) {
    const lastUse = Date.parse(instance.lastActivityAt ?? instance.createdAt);
    deadlines.push({ reason: "idle", deadline: new Date(lastUse + idleLimitMs) });
  }
  return deadlines.sort((a, b) => a.deadline.getTime() - b.deadline.getTime())[0];
}

function describe(instance: Instance, reason: ReapReason, idleLimitMs: number): string {
  return reason === "ttl"
    ? `reaped: its time to live ended at ${instance.ttlExpiresAt}`
    : `reaped: no database use since ${instance.lastActivityAt ?? instance.createdAt} (idle limit ${formatDuration(idleLimitMs)})`;
}

async function findWarning(store: Store, instanceId: string, reason: ReapReason, deadline: string): Promise<AuditEvent | undefined> {
  const warnings = await store.audit.list({ subject: `instance:${instanceId}`, action: warningAction, limit: 100 });
  return warnings.find((event) => event.detail?.reason === reason && event.detail?.deadline === deadline);
}

async function reap(options: ReaperOptions, instance: Instance, reason: ReapReason, deadline: string, detail: string): Promise<ReapOutcome | undefined> {
  let hostGone: Promise<void>;
  try {
    ({ hostGone } = await options.instances.end(instance, { reason, actor: options.actor ?? "system:reaper", detail, from: instance.state, audit: { deadline } }));
  } catch (error) {
    // moved meanwhile (the owner gave it up, or it failed): the next pass decides again
    if (error instanceof StoreError && error.code === "conflict") return undefined;
    throw error;
  }
  // a host that could not be terminated leaves the instance failed; the lifecycle timeout retries it
  const hostError = await hostGone.then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  return { instanceId: instance.id, action: "reaped", reason, deadline, ...(hostError ? { error: hostError } : {}) };
}
