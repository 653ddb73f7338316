import type { Clock } from "@devenv/core";
import type { Instance, InstanceState, Store } from "@devenv/store";
import { everyPage, StoreError, instanceStates } from "@devenv/store";
import type { ManagedHost, ManagedHostDirectory } from "./ec2-provisioner.ts";
import type { InstanceManager } from "./instance-manager.ts";
import { aliveEc2States } from "./ec2-tags.ts";

export interface ReconcileOptions {
  /** Read only: every change of an instance goes through the instance manager. */
  store: Store;
  instances: InstanceManager;
  /** The EC2 side (an Ec2Provisioner). */
  hosts: ManagedHostDirectory;
  clock: Clock;
  /**
   * Hosts launched and instances changed more recently than this are left alone: a launch
   * whose id is not recorded yet, or that DescribeInstances does not show yet (EC2 is
   * eventually consistent), is not an orphan or a loss. Default 5 min.
   */
  graceMs?: number;
  /** Who the audit log names (default "system:reconcile"). */
  actor?: string;
}

export interface ReconcileReport {
  /** EC2 hosts terminated because no live catalogue instance owns them. */
  orphansTerminated: { ec2InstanceId: string; devenvInstanceId: string | undefined; why: string }[];
  /** Catalogue instances whose host is gone. */
  instancesMarked: { instanceId: string; ec2InstanceId: string; from: InstanceState; to: "failed" | "terminated"; detail: string }[];
}

/**
 * Compares EC2 (the hosts tagged devenv:managed=true of this fleet) with the catalogue.
 * A running host that no live instance owns (no such instance, a terminated one, or an
 * instance recorded on another host) is terminated. An instance whose host vanished or was
 * terminated outside devenv is marked: `failed` with the reason, or `terminated` when it
 * was on its way out anyway (draining). Failed instances are left to the lifecycle timeout,
 * which retires them.
 */
export async function reconcileEc2(options: ReconcileOptions): Promise<ReconcileReport> {
  const now = options.clock.now();
  const graceMs = options.graceMs ?? 5 * 60_000;
  const actor = options.actor ?? "system:reconcile";
  const hosts = await options.hosts.listHosts();
  const report: ReconcileReport = { orphansTerminated: [], instancesMarked: [] };

  for (const host of hosts) {
    if (!aliveEc2States.includes(host.state)) continue;
    if (host.launchTime && now - host.launchTime.getTime() < graceMs) continue;
    const owner = host.devenvInstanceId ? await options.store.instances.find(host.devenvInstanceId) : undefined;
    const why = orphanReason(host, owner);
    if (why === undefined) continue;
    await options.hosts.terminateHosts([host.ec2InstanceId]);
    await options.store.audit.record({
      actor,
      action: "fleet.orphan-terminated",
      subject: `ec2:${host.ec2InstanceId}`,
      detail: { why, devenvInstanceId: host.devenvInstanceId ?? null, ownerId: host.ownerId ?? null },
    });
    report.orphansTerminated.push({ ec2InstanceId: host.ec2InstanceId, devenvInstanceId: host.devenvInstanceId, why });
  }

  const hostsById = new Map(hosts.map((host) => [host.ec2InstanceId, host]));
  const live = everyPage((page) => options.store.instances.list({ states: instanceStates.filter((state) => state !== "terminated"), ...page }));
  for await (const instance of live) {
    // a failed instance may well have lost its host: the lifecycle timeout retires it
    if (instance.provisioner !== "ec2" || !instance.providerId || instance.state === "failed") continue;
    if (now - Date.parse(instance.updatedAt) < graceMs) continue;
    const host = hostsById.get(instance.providerId);
    if (host && aliveEc2States.includes(host.state)) continue;
    const lost = host
      ? `EC2 instance ${host.ec2InstanceId} is ${host.state} outside devenv${host.stateReason ? ` (${host.stateReason})` : ""}`
      : `EC2 instance ${instance.providerId} no longer exists`;
    const to = instance.state === "draining" ? "terminated" : "failed";
    const detail = instance.state === "draining" && instance.stateDetail ? `${instance.stateDetail}; ${lost}` : lost;
    try {
      const { hostGone } = await options.instances.end(instance, { reason: "reconcile", actor, detail, to, from: instance.state, audit: { ec2InstanceId: instance.providerId } });
      // the host is gone already: terminating it again only confirms it
      await hostGone.catch(() => {});
    } catch (error) {
      if (error instanceof StoreError && error.code === "conflict") continue;
      throw error;
    }
    report.instancesMarked.push({ instanceId: instance.id, ec2InstanceId: instance.providerId, from: instance.state, to, detail });
  }
  return report;
}

/** Why a running host belongs to no live instance, or undefined when it does. */
function orphanReason(host: ManagedHost, owner: Instance | undefined): string | undefined {
  if (!host.devenvInstanceId) return "it carries no devenv:instance-id tag";
  if (!owner) return `no catalogue instance ${host.devenvInstanceId}`;
  if (owner.state === "terminated") return `instance ${owner.id} is terminated`;
  if (owner.provisioner !== "ec2") return `instance ${owner.id} belongs to the ${owner.provisioner} provisioner`;
  if (owner.providerId && owner.providerId !== host.ec2InstanceId) return `instance ${owner.id} runs on ${owner.providerId}; this is a second host`;
  return undefined;
}
