import { z } from "zod";

/**
 * How one kind of instance (personal or shared) gets its hosts, as the control plane's
 * config file says it. One schema per provisioner; `kind` picks it.
 */
export const LocalProvisionerConfig = z.strictObject({
  kind: z.literal("local"),
  /** Heap of each instance's own Cassandra node, e.g. 512M. */
  heap: z
    .string()
    .regex(/^\d+[MG]$/, "expected a JVM heap size such as 512M or 1G")
    .optional(),
});

export const Ec2ProvisionerConfig = z.strictObject({
  kind: z.literal("ec2"),
  region: z.string().min(1),
  /** An EC2 API endpoint other than AWS's own (moto, LocalStack). */
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  /** A launch template name, or its id (lt-…). */
  launchTemplate: z.string().min(1),
  /** A version number, $Latest or $Default (the default). */
  launchTemplateVersion: z.string().min(1).optional(),
  /** Tried in order when EC2 has no capacity for one; empty: the template's own type. */
  instanceTypes: z.array(z.string().min(1)).default([]),
  market: z.enum(["spot", "on-demand"]).default("spot"),
  /** What to do when spot capacity is refused. */
  fallback: z.enum(["on-demand", "none"]).default("on-demand"),
  /** Highest spot price per hour in USD (default: EC2's, the on-demand price). */
  maxSpotPrice: z
    .string()
    .regex(/^\d+(\.\d+)?$/, "expected a price in USD such as 0.12")
    .optional(),
  /** Tried in order when a subnet has no capacity or addresses left; empty: the template's own. */
  subnets: z.array(z.string().min(1)).default([]),
  /** More tags on every host (cost centre…); devenv:* keys are devenv's own. */
  tags: z.record(z.string().min(1), z.string()).default({}),
  /** The devenv:fleet tag value: keeps control planes sharing an account apart. */
  fleet: z.string().min(1).default("default"),
  /** Where the data volume is mounted on the host. */
  cassandraDataDir: z.string().min(1).default("/var/lib/cassandra"),
});

/** A secret named, never given inline: an environment variable or a file holding it. */
const StandingSecret = z.union([z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })], {
  error: "put secrets in the environment ({ env: NAME }) or a file ({ file: PATH }), never inline",
});

export const StaticHostConfig = z.strictObject({
  /** The name the host's agent reports as its instanceId when it registers (its hostname, say). */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "expected a host name (letters, digits, . _ -)"),
  /** Where its Cassandra listens, as the host's agent also reports it. */
  address: z.string().min(1),
  port: z.number().int().min(1).max(65_535).default(9042),
  /**
   * The host's standing join token (the same value sits in its /etc/devenv/join-token):
   * each shared instance placed on the host is issued this token, so the host registers by
   * itself. Without it, `devenv up --shared` hands a one-time token to the operator.
   */
  joinToken: StandingSecret.optional(),
});

export const StaticProvisionerConfig = z.strictObject({
  kind: z.literal("static"),
  hosts: z.array(StaticHostConfig).min(1, "a static provisioner needs at least one host"),
});

export const ProvisionerConfig = z.discriminatedUnion("kind", [LocalProvisionerConfig, Ec2ProvisionerConfig, StaticProvisionerConfig]);
export type ProvisionerConfig = z.infer<typeof ProvisionerConfig>;
export type LocalProvisionerConfig = z.infer<typeof LocalProvisionerConfig>;
export type Ec2ProvisionerConfig = z.infer<typeof Ec2ProvisionerConfig>;
export type StaticProvisionerConfig = z.infer<typeof StaticProvisionerConfig>;
export type StaticHostConfig = z.infer<typeof StaticHostConfig>;

/** A provisioner for each kind of instance; without a config file both are local. */
export const ProvisionersConfig = z
  .strictObject({
    personal: ProvisionerConfig.default({ kind: "local" }),
    shared: ProvisionerConfig.default({ kind: "local" }),
  })
  .refine((value) => value.personal.kind !== "static", { path: ["personal", "kind"], message: "personal instances cannot use static hosts (they are shared by nature)" })
  .refine((value) => value.personal.kind !== "ec2" || value.shared.kind !== "ec2" || value.personal.region === value.shared.region, {
    path: ["shared", "region"],
    message: "personal and shared ec2 provisioners must use the same region (one EC2 client terminates and reconciles the fleet's hosts)",
  })
  .refine((value) => value.personal.kind !== "ec2" || value.shared.kind !== "ec2" || value.personal.endpoint === value.shared.endpoint, {
    path: ["shared", "endpoint"],
    message: "personal and shared ec2 provisioners must use the same endpoint (one EC2 client terminates and reconciles the fleet's hosts)",
  })
  .refine((value) => value.personal.kind !== "ec2" || value.shared.kind !== "ec2" || value.personal.fleet === value.shared.fleet, {
    path: ["shared", "fleet"],
    message: "personal and shared ec2 provisioners must use the same fleet (reconciliation lists one fleet's hosts and would fail the other's instances)",
  });
export type ProvisionersConfig = z.infer<typeof ProvisionersConfig>;
