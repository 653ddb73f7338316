/**
 * Tags on every EC2 host devenv starts. The control plane's IAM policy lets it terminate
 * only what carries `devenv:managed=true`; the others tie a host to the catalogue and are
 * the record of how it was bought (the catalogue has no column for the market).
 */
export const ec2Tags = {
  managed: "devenv:managed",
  /** Which control plane owns the host: several may share one account. */
  fleet: "devenv:fleet",
  instanceId: "devenv:instance-id",
  owner: "devenv:owner",
  /** personal | shared */
  purpose: "devenv:purpose",
  /** spot | on-demand: what RunInstances was asked for */
  market: "devenv:market",
  name: "Name",
} as const;

export type Market = "spot" | "on-demand";

/** EC2 instance states in which a host still runs, or may run again. */
export const aliveEc2States: readonly string[] = ["pending", "running", "stopping", "stopped"];
