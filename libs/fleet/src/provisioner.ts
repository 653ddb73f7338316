import type { Instance, ProvisionerKind } from "@devenv/store";

/** What a provisioner learned about the host it started (all optional: a static host brings its own). */
export interface ProvisionResult {
  /** The provider's id of the host: an EC2 instance id, a local pid tag, a static host name. */
  providerId?: string;
  hostAddress?: string;
  hostPort?: number;
  /** How the host is paid for, when it is a cloud host (the cost view sums hours by it). */
  market?: "spot" | "on-demand";
}

/**
 * Starts and stops the host behind a catalogue instance. The caller owns the catalogue:
 * it creates the instance, issues the join token, calls `provision`, and records the
 * result and every state move; a provisioner only talks to its provider.
 *
 * Both methods are safe to repeat: `provision` for an instance that already has a host
 * returns that host, `terminate` of a host that is gone (or never started) succeeds.
 */
export interface Provisioner {
  readonly kind: "local" | "ec2" | "static";
  provision(instance: Instance, joinToken: string): Promise<ProvisionResult>;
  terminate(instance: Instance): Promise<void>;
}

/** The provisioner of each kind a control plane runs with (a kind it lacks cannot be served). */
export type Provisioners = Partial<Record<ProvisionerKind, Provisioner>>;

/** The provisioner for an instance, or a clear error naming what is configured. */
export function provisionerFor(provisioners: Provisioners, instance: Pick<Instance, "id" | "provisioner">): Provisioner {
  const provisioner = provisioners[instance.provisioner];
  if (provisioner) return provisioner;
  const configured = Object.keys(provisioners);
  throw new Error(
    `instance ${instance.id} uses the ${instance.provisioner} provisioner, which this control plane does not run (configured: ${
      configured.length > 0 ? configured.join(", ") : "none"
    })`,
  );
}

/** Refuses an instance that belongs to another kind of provisioner. */
export function assertProvisionerKind(kind: ProvisionerKind, instance: Pick<Instance, "id" | "provisioner">): void {
  if (instance.provisioner !== kind) {
    throw new Error(`instance ${instance.id} belongs to the ${instance.provisioner} provisioner, not ${kind}`);
  }
}
