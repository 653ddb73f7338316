import type { Clock } from "@devenv/core";
import type { Instance, InstanceState, Store } from "@devenv/store";
import { everyPage, StoreError } from "@devenv/store";
import type { InstanceManager } from "./instance-manager.ts";

/**
 * How long an instance may stay in a state before it is declared stuck. States with no
 * limit (ready, terminated) are never timed out. `failed` is the grace an operator gets to
 * look at a failed instance before it is retired to `terminated`.
 */
export type StateLimits = Partial<Record<Exclude<InstanceState, "ready" | "terminated">, number>>;

const minute = 60_000;

export const defaultStateLimits: Required<StateLimits> = {
  requested: 5 * minute,
  provisioning: 15 * minute,
  // the host booted (or never did) and its agent did not say hello with the join token
  registering: 15 * minute,
  restoring: 2 * 60 * minute,
  refreshing: 2 * 60 * minute,
  draining: 15 * minute,
  failed: 60 * minute,
};

export interface LifecycleTimeoutOptions {
  /** Read only: every change goes through the instance manager. */
  store: Store;
  instances: InstanceManager;
  clock: Clock;
  /** Merged over `defaultStateLimits`. */
  limits?: StateLimits;
  /** Who the audit log names (default "system:lifecycle"). */
  actor?: string;
}

export interface TimeoutOutcome {
  instanceId: string;
  from: InstanceState;
  /** failed: timed out; terminated: a failed instance retired after its grace. */
  to: "failed" | "terminated";
  /** Whether the provider confirmed the host is gone. */
  hostTerminated: boolean;
  error?: string;
}

/**
 * One pass over the live instances: each one that has been in its state longer than the
 * state's limit is ended as `failed` through the instance manager (compare-and-set: an
 * instance that moved on meanwhile is left alone), so no host is left running for an
 * instance that will never be used. Failed instances past their grace are retired.
 *
 * Time in a state is measured from the instance's `updatedAt`, the last change the
 * catalogue recorded.
 */
export async function expireStuckInstances(options: LifecycleTimeoutOptions): Promise<TimeoutOutcome[]> {
  const limits = { ...defaultStateLimits, ...options.limits };
  const actor = options.actor ?? "system:lifecycle";
  const now = options.clock.now();
  const candidates = everyPage((page) => options.store.instances.list({ states: Object.keys(limits) as InstanceState[], ...page }));
  const outcomes: TimeoutOutcome[] = [];

  for await (const instance of candidates) {
    const limit = limits[instance.state as keyof StateLimits];
    if (limit === undefined || now - Date.parse(instance.updatedAt) <= limit) continue;
    const outcome = instance.state === "failed" ? await retire(options, instance, actor) : await timeOut(options, instance, limit, actor);
    if (outcome) outcomes.push(outcome);
  }
  return outcomes;
}

async function timeOut(options: LifecycleTimeoutOptions, instance: Instance, limitMs: number, actor: string): Promise<TimeoutOutcome | undefined> {
  const detail = `stuck in ${instance.state} for more than ${formatDuration(limitMs)} (since ${instance.updatedAt})${
    instance.state === "registering" ? ": the host's agent never registered" : ""
  }`;
  const ended = await endUnlessMoved(options, instance, { reason: "timeout", actor, detail, to: "failed", from: instance.state, audit: { limitMs } });
  if (ended === undefined) return undefined;
  return { instanceId: instance.id, from: instance.state, to: "failed", ...ended };
}

/** A failed instance past its grace is retired: host terminated (again: idempotent), instance terminated. */
async function retire(options: LifecycleTimeoutOptions, instance: Instance, actor: string): Promise<TimeoutOutcome | undefined> {
  const ended = await endUnlessMoved(options, instance, { reason: "retire", actor, detail: instance.stateDetail ?? undefined, from: "failed" });
  if (ended === undefined) return undefined;
  return { instanceId: instance.id, from: "failed", to: "terminated", ...ended };
}

async function endUnlessMoved(
  options: LifecycleTimeoutOptions,
  instance: Instance,
  input: Parameters<InstanceManager["end"]>[1],
): Promise<{ hostTerminated: boolean; error?: string } | undefined> {
  let hostGone: Promise<void>;
  try {
    ({ hostGone } = await options.instances.end(instance, input));
  } catch (error) {
    // it moved on since we listed it: no longer stuck
    if (error instanceof StoreError && error.code === "conflict") return undefined;
    throw error;
  }
  return hostGone.then(
    () => ({ hostTerminated: true }),
    (error: unknown) => ({ hostTerminated: false, error: error instanceof Error ? error.message : String(error) }),
  );
}

export function formatDuration(ms: number): string {
  if (ms % (60 * minute) === 0) return `${ms / (60 * minute)} h`;
  if (ms % minute === 0) return `${ms / minute} min`;
  return `${Math.round(ms / 1000)} s`;
}
