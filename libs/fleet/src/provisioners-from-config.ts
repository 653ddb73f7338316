import type { EC2Client } from "@aws-sdk/client-ec2";
import type { Instance, InstanceKind, ProvisionerKind, Store } from "@devenv/store";
import { withAudit } from "./audited-provisioner.ts";
import { Ec2Provisioner, createEc2Client, launchTemplateRef, type Ec2ProvisionerEvent, type ManagedHostDirectory } from "./ec2-provisioner.ts";
import { LocalProvisioner } from "./local-provisioner.ts";
import type { Ec2ProvisionerConfig, ProvisionersConfig, StaticHostConfig, StaticProvisionerConfig } from "./provisioner-config.ts";
import type { Provisioner, Provisioners } from "./provisioner.ts";
import { StaticProvisioner } from "./static-provisioner.ts";
import { readAgentUserDataTemplate } from "./user-data.ts";

/** Where the config says a secret is: an environment variable or a file. */
export type SecretRef = NonNullable<StaticHostConfig["joinToken"]>;

export interface ProvisionerDeps {
  store: Pick<Store, "agents" | "instances" | "audit">;
  /** The /agent endpoint as agents on this machine reach it (local instances). */
  localAgentUrl: string;
  /** The /agent endpoint as hosts elsewhere reach it (EC2 instances): from the public URL. */
  publicAgentUrl: string;
  /** Where local instances keep their files (local provisioner). */
  instancesDir: string;
  /** How to start an agent on this machine; without it no local instance can be started here. */
  agentCommand?: readonly string[];
  /** The value of a secret the config names (a static host's standing join token); throws when it cannot be read. */
  resolveSecret: (ref: SecretRef) => string;
  /** The cloud-init template of EC2 hosts (default: infra/cloud-init/agent-user-data.yaml of this repository). */
  userDataTemplate?: string;
  /** Where an EC2 host downloads the agent release (a URL signed per instance). */
  agentTarballUrl: (instance: Instance) => string | Promise<string>;
  /** Overrides the config's EC2 endpoint (moto in tests). */
  ec2Endpoint?: string;
  /** EC2 credentials instead of the SDK's default chain (moto in tests). */
  ec2Credentials?: { accessKeyId: string; secretAccessKey: string };
  onEvent?: (event: Ec2ProvisionerEvent) => void;
}

export interface ConfiguredProvisioners {
  /** One audited provisioner per kind the config uses; what the instance manager and fleet passes call. */
  byKind: Provisioners;
  /** The provisioner that starts new instances of a kind, or an error saying why there is none. */
  forInstanceKind(kind: InstanceKind): Provisioner;
  /** EC2's view of the fleet's hosts for reconciliation and the cost view, when a kind uses ec2. */
  ec2Hosts: ManagedHostDirectory | undefined;
  /** The local provisioner itself (not audited), for the agent supervisor. */
  local: LocalProvisioner | undefined;
  /** The static provisioner itself (not audited): its hosts and their standing join tokens. */
  staticHosts: StaticProvisioner | undefined;
  /** Releases the EC2 client's connections. */
  close(): void;
}

/**
 * The provisioners the control plane's config names: one per kind of provisioner it uses,
 * each audited. When personal and shared instances both use ec2 (or both local), the one
 * provisioner of that kind starts each instance with its own kind's settings; terminating,
 * listing and reconciling do not depend on them (the config keeps one region, endpoint and
 * fleet).
 */
export async function createProvisioners(config: ProvisionersConfig, deps: ProvisionerDeps): Promise<ConfiguredProvisioners> {
  const { shared } = config;
  const kindsUsing = (kind: ProvisionerKind) => (["personal", "shared"] as const).filter((instanceKind) => config[instanceKind].kind === kind);
  const byKind: Provisioners = {};

  let local: LocalProvisioner | undefined;
  const localKinds = kindsUsing("local");
  if (localKinds.length > 0 && deps.agentCommand) {
    const heap: Partial<Record<InstanceKind, string>> = {};
    for (const kind of localKinds) {
      const localConfig = config[kind];
      if (localConfig.kind === "local" && localConfig.heap) heap[kind] = localConfig.heap;
    }
    local = new LocalProvisioner({ instancesDir: deps.instancesDir, agentCommand: deps.agentCommand, agentUrl: () => deps.localAgentUrl, heap });
    byKind.local = withAudit(local, deps.store.audit);
  }

  let staticHosts: StaticProvisioner | undefined;
  if (shared.kind === "static") {
    staticHosts = new StaticProvisioner({ hosts: resolveStaticHosts(shared, deps.resolveSecret), store: deps.store });
    byKind.static = withAudit(staticHosts, deps.store.audit);
  }

  let ec2Client: EC2Client | undefined;
  let ec2Hosts: ManagedHostDirectory | undefined;
  const ec2Configs = (["personal", "shared"] as const).flatMap((kind) => {
    const kindConfig = config[kind];
    return kindConfig.kind === "ec2" ? [{ kind, config: kindConfig }] : [];
  });
  const [firstEc2] = ec2Configs;
  if (firstEc2) {
    const client = createEc2Client({
      region: firstEc2.config.region,
      endpoint: deps.ec2Endpoint ?? firstEc2.config.endpoint,
      credentials: deps.ec2Credentials,
    });
    ec2Client = client;
    const userDataTemplate = deps.userDataTemplate ?? (await readAgentUserDataTemplate());
    const ec2ByKind = new Map(ec2Configs.map(({ kind, config: ec2Config }) => [kind, ec2Provisioner(ec2Config, client, userDataTemplate, deps)] as const));
    const first = ec2ByKind.get(firstEc2.kind)!;
    ec2Hosts = first;
    // an instance of a kind that no longer uses ec2 (the config changed) is served by the
    // other kind's settings: terminating it is the same either way
    byKind.ec2 = withAudit(
      {
        kind: "ec2",
        provision: (instance, joinToken) => (ec2ByKind.get(instance.kind) ?? first).provision(instance, joinToken),
        terminate: (instance) => (ec2ByKind.get(instance.kind) ?? first).terminate(instance),
      },
      deps.store.audit,
    );
  }

  return {
    byKind,
    forInstanceKind(kind) {
      const wanted = config[kind].kind;
      const provisioner = byKind[wanted];
      if (provisioner) return provisioner;
      // only local can be missing: the config names it but no agent command was given
      throw new Error(`${kind} instances use the local provisioner, which cannot start agents here: the control plane was given no agent command`);
    },
    ec2Hosts,
    local,
    staticHosts,
    close: () => ec2Client?.destroy(),
  };
}

function ec2Provisioner(config: Ec2ProvisionerConfig, client: EC2Client, userDataTemplate: string, deps: ProvisionerDeps): Ec2Provisioner {
  return new Ec2Provisioner({
    client,
    launchTemplate: launchTemplateRef(config.launchTemplate, config.launchTemplateVersion),
    controlPlaneUrl: deps.publicAgentUrl,
    userDataTemplate,
    agentTarballUrl: deps.agentTarballUrl,
    cassandraDataDir: config.cassandraDataDir,
    fleet: config.fleet,
    instanceTypes: config.instanceTypes,
    subnets: config.subnets,
    market: config.market,
    fallback: config.fallback,
    maxSpotPrice: config.maxSpotPrice,
    tags: config.tags,
    onEvent: deps.onEvent,
  });
}

function resolveStaticHosts(config: StaticProvisionerConfig, resolveSecret: (ref: SecretRef) => string) {
  return config.hosts.map((host) => {
    if (!host.joinToken) return { ...host, joinToken: undefined };
    try {
      return { ...host, joinToken: resolveSecret(host.joinToken) };
    } catch (error) {
      throw new Error(`static host ${host.name}: cannot read its join token: ${(error as Error).message}`, { cause: error });
    }
  });
}
