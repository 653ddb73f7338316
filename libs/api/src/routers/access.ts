import type { Instance, Store, User } from "@devenv/store";
import { ApiError } from "../api-error.ts";
import { othersInstances } from "../policy.ts";

/**
 * The instance if the caller may do `action` with it. Someone else's instance the caller
 * may not touch is `not-found` (the same answer as an unknown id), except that a caller
 * who may read it but not do this gets `forbidden`.
 */
export async function instanceFor(store: Store, user: User, id: string, action: "read" | "assign" | "end"): Promise<Instance> {
  const instance = await store.instances.find(id);
  if (instance === undefined) throw new ApiError("not-found", `instance ${id} not found; see instances.list`);
  if (instance.ownerId === user.id) return instance;
  const may = othersInstances[user.role];
  if (!may.read) throw new ApiError("not-found", `instance ${id} not found; see instances.list`);
  if (!may[action === "read" ? "read" : action]) throw new ApiError("forbidden", `instance ${id} belongs to someone else; as ${user.role} you may not ${action} it`);
  return instance;
}
