import type { ApiProcedurePath, UserRole } from "@devenv/protocol";

/**
 * Who may call what. A role listed may call the procedure; the procedure may still
 * narrow it to the caller's own resources (see `ownResourcesOnly`). Anonymous callers and
 * agent credentials get `unauthorized` from every procedure; a role not listed gets
 * `forbidden`.
 *
 * - developer: the catalogue (read), their own instances and tokens.
 * - ops: reads everything fleet-wide, makes and pins snapshots, assigns snapshots to any
 *   instance (a refresh), cancels jobs; ends or extends only their own instances.
 * - admin: everything, users included.
 *
 * Another user's instance or token is `not-found` for a caller who may not act on it,
 * never `forbidden`: the API does not confirm that an id exists to someone who cannot see it.
 */
export const procedureRoles: Record<ApiProcedurePath, readonly UserRole[]> = {
  "auth.whoami": ["developer", "ops", "admin"],
  "auth.tokens.list": ["developer", "ops", "admin"],
  "auth.tokens.create": ["developer", "ops", "admin"],
  "auth.tokens.revoke": ["developer", "ops", "admin"],
  "auth.users.list": ["admin"],
  "auth.users.create": ["admin"],

  "snapshots.list": ["developer", "ops", "admin"],
  "snapshots.show": ["developer", "ops", "admin"],
  "snapshots.create": ["ops", "admin"],
  "snapshots.delete": ["admin"],
  "snapshots.pin": ["ops", "admin"],
  "snapshots.unpin": ["ops", "admin"],

  "instances.list": ["developer", "ops", "admin"],
  "instances.show": ["developer", "ops", "admin"],
  "instances.up": ["developer", "ops", "admin"],
  "instances.down": ["developer", "ops", "admin"],
  "instances.extendTtl": ["developer", "ops", "admin"],
  "instances.assign": ["developer", "ops", "admin"],

  "fleet.overview": ["ops", "admin"],
  "fleet.cost": ["ops", "admin"],

  "jobs.list": ["ops", "admin"],
  "jobs.show": ["ops", "admin"],
  "jobs.cancel": ["ops", "admin"],

  "schedules.list": ["ops", "admin"],
  "schedules.set": ["admin"],
};

/** What a role may do with instances it does not own. */
export const othersInstances: Record<UserRole, { read: boolean; assign: boolean; end: boolean }> = {
  developer: { read: false, assign: false, end: false },
  ops: { read: true, assign: true, end: false },
  admin: { read: true, assign: true, end: true },
};

/** Shared instances (team hosts) are made by ops and admin only. */
export function mayCreateShared(role: UserRole): boolean {
  return role !== "developer";
}

export function roleSummary(role: UserRole): string {
  switch (role) {
    case "developer":
      return "developer: read the snapshot catalogue; start, end, extend and refresh your own instances; manage your own tokens";
    case "ops":
      return "ops: read everything fleet-wide; make, pin and assign snapshots; cancel jobs; your own instances and tokens";
    case "admin":
      return "admin: everything, including users, schedules and deleting snapshots";
  }
}
