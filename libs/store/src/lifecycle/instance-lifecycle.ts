import { StoreError } from "../errors.ts";
import type { InstanceState } from "../model.ts";

/**
 * The only place that says which instance state may follow which. Anything not
 * terminated may be drained (the owner gave it up) or fail; `terminated` is final.
 *
 *   requested -> provisioning -> registering -> restoring -> ready <-> refreshing
 *   registering -> ready          (no snapshot to restore)
 *   any live state -> draining -> terminated;  any live state -> failed -> draining | terminated
 */
export function allowedNextStates(from: InstanceState): readonly InstanceState[] {
  switch (from) {
    case "requested":
      return ["provisioning", "draining", "terminated", "failed"];
    case "provisioning":
      return ["registering", "draining", "terminated", "failed"];
    case "registering":
      return ["restoring", "ready", "draining", "terminated", "failed"];
    case "restoring":
      return ["ready", "draining", "terminated", "failed"];
    case "ready":
      return ["refreshing", "draining", "terminated", "failed"];
    case "refreshing":
      // a failed refresh returns to ready on the previous snapshot; a broken host fails
      return ["ready", "draining", "terminated", "failed"];
    case "draining":
      return ["terminated", "failed"];
    case "failed":
      return ["draining", "terminated"];
    case "terminated":
      return [];
  }
}

export function canTransition(from: InstanceState, to: InstanceState): boolean {
  return allowedNextStates(from).includes(to);
}

/** Throws `invalid-transition` naming the allowed moves when `from -> to` is not one of them. */
export function assertTransition(instanceId: string, from: InstanceState, to: InstanceState): void {
  if (canTransition(from, to)) return;
  const allowed = allowedNextStates(from);
  throw new StoreError(
    "invalid-transition",
    `instance ${instanceId} cannot move from ${from} to ${to}; from ${from} it may move to ${
      allowed.length > 0 ? allowed.join(", ") : "nothing (terminal state)"
    }`,
  );
}

/** States in which an instance still exists (holds or will hold a host). */
export function isLiveInstanceState(state: InstanceState): boolean {
  return state !== "terminated";
}
