import type { Store, User } from "@devenv/store";

/** The actor scheduled and automatic work is recorded under. */
export async function systemUser(store: Store): Promise<User> {
  const existing = await store.users.findByName("devenv-system");
  if (existing) return existing;
  try {
    return await store.users.create({ name: "devenv-system", role: "admin" });
  } catch {
    // another replica created it first
    return (await store.users.findByName("devenv-system"))!;
  }
}
