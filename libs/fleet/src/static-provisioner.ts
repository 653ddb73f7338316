import type { Instance, Store } from "@devenv/store";
import type { StaticHostConfig } from "./provisioner-config.ts";
import { assertProvisionerKind, type ProvisionResult, type Provisioner } from "./provisioner.ts";

/** A shared host as the config names it, its standing join token read from where the config points. */
export type StaticHost = Omit<StaticHostConfig, "joinToken"> & { joinToken: string | undefined };

export interface StaticProvisionerOptions {
  /**
   * The shared hosts new static instances are placed on, first free one first. Without
   * hosts, only instances created with their host recorded (`providerId`) can be served.
   */
  hosts?: readonly StaticHost[];
  /** Where the live instances (who uses which host) are read, and agents revoked. */
  store: Pick<Store, "agents" | "instances">;
}

/**
 * Shared hosts that run whether devenv likes it or not (a rack server, a team's VM): devenv
 * starts nothing and stops nothing. Each host serves one live instance at a time; the host
 * joins by itself with its standing join token (or a one-time token the operator carries
 * over); forgetting the instance revokes its agent's credential so it can no longer speak
 * for the instance.
 *
 * How a shared host joins:
 *  1. The config lists the host: its `name` (what its agent reports as instanceId), the
 *     address and port of its Cassandra, and optionally where its standing join token is.
 *     `provision` of a new static instance picks the first host no live instance uses and
 *     returns its name as `providerId`; an instance created with `providerId` already set
 *     keeps that host.
 *  2. On the host: `/etc/devenv/agent.json` with `"provider": "static"`, `"instanceId"` set
 *     to that same name, `controlPlaneUrl`, and the token in `/etc/devenv/join-token`
 *     (mode 0640, root:devenv); then `systemctl enable --now devenv-agent`.
 *  3. The agent says `hello` with the token; registration checks that the identity's
 *     `instanceId` equals the instance's `providerId`, spends the token and hands out the
 *     agent's credential. From then on the host reconnects with its credential.
 */
export class StaticProvisioner implements Provisioner {
  readonly kind = "static" as const;
  readonly hosts: readonly StaticHost[];
  readonly #store: Pick<Store, "agents" | "instances">;

  constructor(options: StaticProvisionerOptions) {
    const seen = new Set<string>();
    for (const host of options.hosts ?? []) {
      if (seen.has(host.name)) throw new Error(`static hosts: ${host.name} is listed twice; each host serves one instance under its own name`);
      seen.add(host.name);
    }
    this.hosts = options.hosts ?? [];
    this.#store = options.store;
  }

  async provision(instance: Instance, _joinToken: string): Promise<ProvisionResult> {
    assertProvisionerKind("static", instance);
    if (instance.providerId) {
      const configured = this.hosts.find((host) => host.name === instance.providerId);
      const hostAddress = instance.hostAddress ?? configured?.address;
      const hostPort = instance.hostPort ?? configured?.port;
      return { providerId: instance.providerId, ...(hostAddress ? { hostAddress } : {}), ...(hostPort ? { hostPort } : {}) };
    }
    const host = await this.pickHost(instance);
    return { providerId: host.name, hostAddress: host.address, hostPort: host.port };
  }

  /**
   * The first configured host that no live (not terminated) static instance other than
   * `instance` uses, or an error naming who holds each host.
   *
   * A host counts as taken once the caller has recorded the instance's `providerId`, so
   * provisions of static instances running at once may pick the same host: the caller
   * serialises them.
   */
  async pickHost(instance: Pick<Instance, "id">): Promise<StaticHost> {
    if (this.hosts.length === 0) {
      throw new Error(`static instance ${instance.id} has no host: no shared hosts are configured (add hosts to the static provisioner's config)`);
    }
    const users = await this.#hostUsers(instance.id);
    const free = this.hosts.find((host) => !users.has(host.name));
    if (free) return free;
    const held = this.hosts.map((host) => `${host.name} (instance ${users.get(host.name)})`).join(", ");
    throw new Error(`all ${this.hosts.length} shared hosts are in use: ${held}; end one of those instances or add a host to the config`);
  }

  /** The standing join token of a configured host; undefined when it has none (or is not configured). */
  standingJoinToken(hostName: string): string | undefined {
    return this.hosts.find((host) => host.name === hostName)?.joinToken;
  }

  /** The host keeps running; its agents lose their credentials. */
  async terminate(instance: Instance): Promise<void> {
    assertProvisionerKind("static", instance);
    for (const agent of await this.#store.agents.list({ instanceId: instance.id })) {
      await this.#store.agents.revoke(agent.id);
    }
  }

  /** Host name -> the live static instance on it, leaving out `exceptInstanceId`. */
  async #hostUsers(exceptInstanceId: string): Promise<Map<string, string>> {
    const users = new Map<string, string>();
    const limit = 1_000;
    // list() leaves terminated instances out; every other state still holds its host
    for (let after: string | undefined; ; ) {
      const page = await this.#store.instances.list({ limit, after });
      for (const live of page) {
        if (live.provisioner === "static" && live.providerId !== null && live.id !== exceptInstanceId && !users.has(live.providerId)) {
          users.set(live.providerId, live.id);
        }
      }
      if (page.length < limit) break;
      after = page.at(-1)?.id;
    }
    return users;
  }
}

/** True when a registering agent's identity names the static host the instance was created for. */
export function staticHostMatches(instance: Pick<Instance, "providerId">, identity: { instanceId?: unknown }): boolean {
  return typeof identity.instanceId === "string" && instance.providerId !== null && identity.instanceId === instance.providerId;
}
