import type { Clock } from "@devenv/core";
import type { Instance, Store } from "@devenv/store";
import { everyPage, instanceStates } from "@devenv/store";
import { provisionedAction } from "./audited-provisioner.ts";
import type { ManagedHost, ManagedHostDirectory } from "./ec2-provisioner.ts";

/** How the hours were paid for: EC2 spot or on-demand, or hosts devenv does not rent (local, static). */
export type CostMarket = "spot" | "on-demand" | "self-hosted" | "unknown";

/** One line of `devenv fleet --cost`. */
export interface CostRow {
  ownerId: string;
  ownerName: string | null;
  market: CostMarket;
  /** Instances that ran some time in the period. */
  instances: number;
  /** Instance-hours inside the period, to 2 decimals. */
  hours: number;
}

export interface CostOptions {
  store: Store;
  /** The period: [from, to). `to` defaults to now. */
  from: Date;
  to?: Date;
  clock: Clock;
  /** Live EC2 view: launch times and market tags of hosts EC2 still lists. */
  hosts?: ManagedHostDirectory;
}

const hourMs = 3_600_000;

/**
 * Instance-hours by owner and market over a period. An instance with a host runs from its
 * host's launch (EC2's launch time when EC2 still lists it, else the catalogue's creation time) until it
 * was terminated or failed (its last catalogue change), or until now. The market comes from
 * the host's `devenv:market` tag, else from the `instance.provisioned` audit event.
 */
export async function instanceHours(options: CostOptions): Promise<CostRow[]> {
  const now = options.clock.now();
  const from = options.from.getTime();
  const to = Math.min(options.to?.getTime() ?? now, now);
  if (!(from < to)) throw new Error(`the cost period must start before it ends (from ${options.from.toISOString()}, to ${new Date(to).toISOString()})`);

  const hostsByInstance = new Map<string, ManagedHost>();
  for (const host of (await options.hosts?.listHosts()) ?? []) {
    if (host.devenvInstanceId) hostsByInstance.set(host.devenvInstanceId, host);
  }
  const rows = new Map<string, CostRow>();
  for (const user of await options.store.users.list()) {
    const instances = everyPage((page) => options.store.instances.list({ ownerId: user.id, states: [...instanceStates], ...page }));
    for await (const instance of instances) {
      // never got a host: nothing ran
      if (!instance.providerId) continue;
      const host = hostsByInstance.get(instance.id);
      // a host cannot launch before its instance was asked for
      const start = Math.max(from, Date.parse(instance.createdAt), host?.launchTime?.getTime() ?? 0);
      const end = Math.min(to, endOf(instance, now));
      if (end <= start) continue;
      const market = await marketOf(options.store, instance, host);
      const key = `${user.id}\u0000${market}`;
      const row = rows.get(key) ?? { ownerId: user.id, ownerName: user.name, market, instances: 0, hours: 0 };
      row.instances += 1;
      row.hours += (end - start) / hourMs;
      rows.set(key, row);
    }
  }
  return [...rows.values()]
    .map((row) => ({ ...row, hours: Math.round(row.hours * 100) / 100 }))
    .sort((a, b) => (a.ownerName ?? a.ownerId).localeCompare(b.ownerName ?? b.ownerId) || a.market.localeCompare(b.market));
}

function endOf(instance: Instance, now: number): number {
  return instance.state === "terminated" || instance.state === "failed" ? Date.parse(instance.updatedAt) : now;
}

async function marketOf(store: Store, instance: Instance, host: ManagedHost | undefined): Promise<CostMarket> {
  if (instance.provisioner !== "ec2") return "self-hosted";
  if (host) return host.market;
  const [provisioned] = await store.audit.list({ subject: `instance:${instance.id}`, action: provisionedAction, limit: 1 });
  const market = provisioned?.detail?.market;
  return market === "spot" || market === "on-demand" ? market : "unknown";
}
