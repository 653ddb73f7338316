import type { Instance } from "@devenv/store";
import type { ProvisionResult, Provisioner } from "../provisioner.ts";

/**
 * For tests only: starts nothing, records every call (with the join token it was handed)
 * and answers with a made-up host. `failNext` makes the next provision fail.
 */
export class RecordingProvisioner implements Provisioner {
  readonly kind = "local" as const;
  readonly provisioned: { instanceId: string; joinToken: string }[] = [];
  readonly terminated: string[] = [];
  #failNext: string | undefined;

  failNext(message: string): void {
    this.#failNext = message;
  }

  async provision(instance: Instance, joinToken: string): Promise<ProvisionResult> {
    this.provisioned.push({ instanceId: instance.id, joinToken });
    const failure = this.#failNext;
    this.#failNext = undefined;
    if (failure !== undefined) throw new Error(failure);
    return { providerId: `recorded-${instance.id.slice(0, 8)}`, hostAddress: "127.0.0.1", hostPort: 9042 };
  }

  async terminate(instance: Instance): Promise<void> {
    this.terminated.push(instance.id);
  }
}
