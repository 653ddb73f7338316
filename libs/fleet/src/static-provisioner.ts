import type { Instance, Store } from "@devenv/store";
import { assertProvisionerKind, type ProvisionResult, type Provisioner } from "./provisioner.ts";

export interface StaticProvisionerOptions {
  /** Where the instance's agents are revoked when it is forgotten. */
  store: Pick<Store, "agents">;
}

/**
 * Shared hosts that run whether devenv likes it or not (a rack server, a team's VM): devenv
 * starts nothing and stops nothing. The host joins by itself with a shared-host join token;
 * forgetting it revokes its agent's credential so it can no longer speak for the instance.
 *
 * How a shared host joins:
 *  1. An operator creates the catalogue instance: kind `shared`, provisioner `static`,
 *     `providerId` = the name the host will give itself (e.g. its hostname), and
 *     `hostAddress` / `hostPort` where its Cassandra listens. The control plane issues a
 *     join token with a long expiry (hours, the operator carries it over) and calls
 *     `provision`, which only echoes what the catalogue already says.
 *  2. On the host: `/etc/devenv/agent.json` with `"provider": "static"`, `"instanceId"` set
 *     to that same name, `controlPlaneUrl`, and the token in `/etc/devenv/join-token`
 *     (mode 0640, root:devenv); then `systemctl enable --now devenv-agent`.
 *  3. The agent says `hello` with the token; registration checks that the identity's
 *     `instanceId` equals the instance's `providerId`, spends the token and hands out the
 *     agent's credential. From then on the host reconnects with its credential.
 */
export class StaticProvisioner implements Provisioner {
  readonly kind = "static" as const;
  readonly #store: Pick<Store, "agents">;

  constructor(options: StaticProvisionerOptions) {
    this.#store = options.store;
  }

  async provision(instance: Instance, _joinToken: string): Promise<ProvisionResult> {
    assertProvisionerKind("static", instance);
    if (!instance.providerId) {
      throw new Error(`static instance ${instance.id} needs a providerId: the name its host reports as instanceId when it registers`);
    }
    return {
      providerId: instance.providerId,
      ...(instance.hostAddress ? { hostAddress: instance.hostAddress } : {}),
      ...(instance.hostPort ? { hostPort: instance.hostPort } : {}),
    };
  }

  /** The host keeps running; its agents lose their credentials. */
  async terminate(instance: Instance): Promise<void> {
    assertProvisionerKind("static", instance);
    for (const agent of await this.#store.agents.list({ instanceId: instance.id })) {
      await this.#store.agents.revoke(agent.id);
    }
  }
}

/** True when a registering agent's identity names the static host the instance was created for. */
export function staticHostMatches(instance: Pick<Instance, "providerId">, identity: { instanceId?: unknown }): boolean {
  return typeof identity.instanceId === "string" && instance.providerId !== null && identity.instanceId === instance.providerId;
}
