import {
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type Filter,
  type Instance as Ec2Instance,
  type RunInstancesCommandInput,
  type TagSpecification,
  type _InstanceType,
} from "@aws-sdk/client-ec2";
import { CodedError } from "@devenv/core";
import type { Instance } from "@devenv/store";
import { aliveEc2States, ec2Tags, type Market } from "./ec2-tags.ts";
import { assertProvisionerKind, type ProvisionResult, type Provisioner } from "./provisioner.ts";
import { renderAgentUserData } from "./user-data.ts";

/** Errors with which EC2 says "no spot capacity for you now": worth an on-demand try. */
export const defaultSpotFallbackCodes: readonly string[] = [
  "InsufficientInstanceCapacity",
  "InsufficientCapacityOnHost",
  "SpotMaxPriceTooLow",
  "MaxSpotInstanceCountExceeded",
  "InsufficientFreeAddressesInSubnet",
];

export interface LaunchTemplateRef {
  /** lt-…; give this or `name`. */
  id?: string;
  name?: string;
  /** A version number, `$Latest` or `$Default` (the default). */
  version?: string;
}

export interface Ec2ProvisionerOptions {
  client: EC2Client;
  launchTemplate: LaunchTemplateRef;
  /** The agent endpoint hosts dial, e.g. wss://devenv.example.com/agent. */
  controlPlaneUrl: string;
  /** The cloud-config text with `{{placeholders}}` (infra/cloud-init/agent-user-data.yaml). */
  userDataTemplate: string;
  /** Where hosts fetch the agent release: a URL, or a function that signs one per instance. */
  agentTarballUrl: string | ((instance: Instance) => string | Promise<string>);
  /** The data volume's mount point (default /var/lib/cassandra). */
  cassandraDataDir?: string;
  /** Value of the `devenv:fleet` tag: keeps control planes sharing an account apart (default "default"). */
  fleet?: string;
  /** Overrides the template's instance type. */
  instanceType?: string;
  /** How each kind of instance is bought (default: personal spot, shared on-demand). */
  markets?: { personal?: Market; shared?: Market };
  /** Highest spot price per hour in USD (default: EC2's, the on-demand price). */
  maxSpotPrice?: string;
  /** On-demand retry when spot is refused (default: enabled, for `defaultSpotFallbackCodes`). */
  spotFallback?: { enabled?: boolean; errorCodes?: readonly string[] };
  subnetId?: string;
  /** More tags for every host (cost centre...). `devenv:` keys are reserved. */
  extraTags?: Record<string, string>;
  /** Told about decisions worth a log line (a spot refusal and its fallback). */
  onEvent?: (event: Ec2ProvisionerEvent) => void;
}

export type Ec2ProvisionerEvent =
  | { type: "spot-refused"; instanceId: string; code: string; message: string; fallback: boolean }
  | { type: "launched"; instanceId: string; ec2InstanceId: string; market: Market }
  | { type: "adopted"; instanceId: string; ec2InstanceId: string };

/** An EC2 host carrying `devenv:managed=true` (and this fleet's tag), as DescribeInstances shows it. */
export interface ManagedHost {
  ec2InstanceId: string;
  /** pending | running | shutting-down | terminated | stopping | stopped */
  state: string;
  /** The catalogue instance it was started for (`devenv:instance-id`), if tagged. */
  devenvInstanceId: string | undefined;
  ownerId: string | undefined;
  purpose: string | undefined;
  market: Market;
  launchTime: Date | undefined;
  /** Why EC2 moved it last ("Server.SpotInstanceTermination: ...", "User initiated ..."). */
  stateReason: string | undefined;
  instanceType: string | undefined;
  privateIpAddress: string | undefined;
}

/** The EC2 side as reconciliation and the cost view need it. */
export interface ManagedHostDirectory {
  /** Every managed host of this fleet, terminated ones included while EC2 still lists them. */
  listHosts(): Promise<ManagedHost[]>;
  terminateHosts(ec2InstanceIds: readonly string[]): Promise<void>;
}

/** A failed EC2 call, with the service's error code kept (EC2's codes: an open set). */
export class Ec2ProvisionError extends CodedError<string> {
  constructor(message: string, code: string, cause?: unknown) {
    super(code, message, { cause });
    this.name = "Ec2ProvisionError";
  }
}

/**
 * Starts devenv hosts on EC2 from a launch template: spot for personal instances (one-time,
 * terminated on interruption), on-demand when spot is refused or for shared instances.
 * Every host is tagged with its catalogue instance, so a repeated `provision` adopts the
 * host an earlier attempt started, and `terminate` finds hosts whose id never reached the
 * catalogue.
 */
export class Ec2Provisioner implements Provisioner, ManagedHostDirectory {
  readonly kind = "ec2" as const;
  readonly fleet: string;
  readonly #options: Ec2ProvisionerOptions;
  readonly #fallbackCodes: ReadonlySet<string>;

  constructor(options: Ec2ProvisionerOptions) {
    const { id, name } = options.launchTemplate;
    if ((id === undefined) === (name === undefined)) throw new Error("launchTemplate needs exactly one of id and name");
    for (const key of Object.keys(options.extraTags ?? {})) {
      if (key.startsWith("devenv:") || key === ec2Tags.name) throw new Error(`extraTags: ${key} is set by devenv itself`);
    }
    this.#options = options;
    this.fleet = options.fleet ?? "default";
    this.#fallbackCodes = new Set(options.spotFallback?.enabled === false ? [] : (options.spotFallback?.errorCodes ?? defaultSpotFallbackCodes));
  }

  async provision(instance: Instance, joinToken: string): Promise<ProvisionResult> {
    assertProvisionerKind("ec2", instance);
    // a retried provision (the control plane restarted mid-way) adopts the host it started
    const [existing] = (await this.hostsOf(instance.id)).filter((host) => aliveEc2States.includes(host.state));
    if (existing) {
      this.#options.onEvent?.({ type: "adopted", instanceId: instance.id, ec2InstanceId: existing.ec2InstanceId });
      return resultOf(existing);
    }

    const userData = renderAgentUserData(this.#options.userDataTemplate, {
      control_plane_url: this.#options.controlPlaneUrl,
      join_token: joinToken,
      agent_tarball_url: await this.#agentTarballUrl(instance),
      cassandra_data_dir: this.#options.cassandraDataDir ?? "/var/lib/cassandra",
    });
    const market = this.marketFor(instance);
    try {
      return await this.#run(instance, userData, market);
    } catch (error) {
      const code = errorCode(error);
      if (market !== "spot" || !(error instanceof Ec2ProvisionError) || !this.#fallbackCodes.has(code)) throw error;
      this.#options.onEvent?.({ type: "spot-refused", instanceId: instance.id, code, message: error.message, fallback: true });
      return await this.#run(instance, userData, "on-demand");
    }
  }

  async terminate(instance: Instance): Promise<void> {
    assertProvisionerKind("ec2", instance);
    // the catalogue's host, plus any host tagged for the instance whose id never got recorded
    const ids = new Set<string>();
    if (instance.providerId) ids.add(instance.providerId);
    for (const host of await this.hostsOf(instance.id)) {
      if (host.state !== "terminated" && host.state !== "shutting-down") ids.add(host.ec2InstanceId);
    }
    await this.terminateHosts([...ids]);
  }

  marketFor(instance: Pick<Instance, "kind">): Market {
    const markets = this.#options.markets ?? {};
    return instance.kind === "personal" ? (markets.personal ?? "spot") : (markets.shared ?? "on-demand");
  }

  async listHosts(): Promise<ManagedHost[]> {
    return this.#describe([]);
  }

  /** The hosts tagged for one catalogue instance (normally one; more only after a lost race). */
  async hostsOf(devenvInstanceId: string): Promise<ManagedHost[]> {
    return this.#describe([{ Name: `tag:${ec2Tags.instanceId}`, Values: [devenvInstanceId] }]);
  }

  async terminateHosts(ec2InstanceIds: readonly string[]): Promise<void> {
    for (const id of ec2InstanceIds) {
      try {
        await this.#options.client.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
      } catch (error) {
        // already gone: what terminate wanted
        if (errorCode(error) === "InvalidInstanceID.NotFound") continue;
        throw wrap(error, `cannot terminate EC2 instance ${id}`);
      }
    }
  }

  async #run(instance: Instance, userData: string, market: Market): Promise<ProvisionResult> {
    const { id, name, version } = this.#options.launchTemplate;
    const tags = this.#tagsFor(instance, market);
    const tagSpecifications: TagSpecification[] = [
      { ResourceType: "instance", Tags: tags },
      { ResourceType: "volume", Tags: tags },
    ];
    const input: RunInstancesCommandInput = {
      MinCount: 1,
      MaxCount: 1,
      LaunchTemplate: { ...(id ? { LaunchTemplateId: id } : { LaunchTemplateName: name }), Version: version ?? "$Default" },
      UserData: Buffer.from(userData, "utf8").toString("base64"),
      // idempotent per instance and market: a retried call returns the first launch
      ClientToken: `${instance.id}:${market}`,
      TagSpecifications: tagSpecifications,
      ...(this.#options.instanceType ? { InstanceType: this.#options.instanceType as _InstanceType } : {}),
      ...(this.#options.subnetId ? { SubnetId: this.#options.subnetId } : {}),
    };
    if (market === "spot") {
      tagSpecifications.push({ ResourceType: "spot-instances-request", Tags: tags });
      input.InstanceMarketOptions = {
        MarketType: "spot",
        SpotOptions: {
          SpotInstanceType: "one-time",
          InstanceInterruptionBehavior: "terminate",
          ...(this.#options.maxSpotPrice ? { MaxPrice: this.#options.maxSpotPrice } : {}),
        },
      };
    }
    let launched: Ec2Instance | undefined;
    try {
      const response = await this.#options.client.send(new RunInstancesCommand(input));
      launched = response.Instances?.[0];
    } catch (error) {
      throw wrap(error, `cannot start a ${market} EC2 instance for devenv instance ${instance.id}`);
    }
    if (!launched?.InstanceId) throw new Ec2ProvisionError(`RunInstances for devenv instance ${instance.id} returned no instance`, "EmptyResponse");
    this.#options.onEvent?.({ type: "launched", instanceId: instance.id, ec2InstanceId: launched.InstanceId, market });
    return { providerId: launched.InstanceId, ...(launched.PrivateIpAddress ? { hostAddress: launched.PrivateIpAddress } : {}), market };
  }

  #tagsFor(instance: Instance, market: Market): { Key: string; Value: string }[] {
    const tags: Record<string, string> = {
      ...this.#options.extraTags,
      [ec2Tags.managed]: "true",
      [ec2Tags.fleet]: this.fleet,
      [ec2Tags.instanceId]: instance.id,
      [ec2Tags.owner]: instance.ownerId,
      [ec2Tags.purpose]: instance.kind,
      [ec2Tags.market]: market,
      [ec2Tags.name]: `devenv-${instance.kind}-${instance.id.slice(0, 8)}`,
    };
    return Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  }

  async #agentTarballUrl(instance: Instance): Promise<string> {
    const source = this.#options.agentTarballUrl;
    return typeof source === "string" ? source : await source(instance);
  }

  async #describe(extraFilters: Filter[]): Promise<ManagedHost[]> {
    const filters: Filter[] = [
      { Name: `tag:${ec2Tags.managed}`, Values: ["true"] },
      { Name: `tag:${ec2Tags.fleet}`, Values: [this.fleet] },
      ...extraFilters,
    ];
    const hosts: ManagedHost[] = [];
    try {
      for await (const page of paginateDescribeInstances({ client: this.#options.client, pageSize: 500 }, { Filters: filters })) {
        for (const reservation of page.Reservations ?? []) {
          for (const ec2Instance of reservation.Instances ?? []) {
            if (ec2Instance.InstanceId) hosts.push(toManagedHost(ec2Instance));
          }
        }
      }
    } catch (error) {
      throw wrap(error, "cannot list devenv's EC2 instances");
    }
    return hosts.sort((a, b) => (a.launchTime?.getTime() ?? 0) - (b.launchTime?.getTime() ?? 0));
  }
}

/** One EC2 client for the provisioner: region and an endpoint (moto, LocalStack) when not AWS's own. */
export function createEc2Client(options: { region: string; endpoint?: string; credentials?: { accessKeyId: string; secretAccessKey: string } }): EC2Client {
  return new EC2Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
}

/** One EC2 instance by id, tagged or not; undefined when EC2 does not know it. */
export async function describeEc2Instance(client: EC2Client, ec2InstanceId: string): Promise<Ec2Instance | undefined> {
  try {
    const response = await client.send(new DescribeInstancesCommand({ InstanceIds: [ec2InstanceId] }));
    return response.Reservations?.[0]?.Instances?.[0];
  } catch (error) {
    if (errorCode(error) === "InvalidInstanceID.NotFound") return undefined;
    throw wrap(error, `cannot describe EC2 instance ${ec2InstanceId}`);
  }
}

function toManagedHost(ec2Instance: Ec2Instance): ManagedHost {
  const tags = new Map((ec2Instance.Tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""]));
  const taggedMarket = tags.get(ec2Tags.market);
  const reason = ec2Instance.StateReason?.Message ?? ec2Instance.StateTransitionReason;
  return {
    ec2InstanceId: ec2Instance.InstanceId ?? "",
    state: ec2Instance.State?.Name ?? "unknown",
    devenvInstanceId: tags.get(ec2Tags.instanceId),
    ownerId: tags.get(ec2Tags.owner),
    purpose: tags.get(ec2Tags.purpose),
    market: taggedMarket === "spot" || taggedMarket === "on-demand" ? taggedMarket : ec2Instance.InstanceLifecycle === "spot" ? "spot" : "on-demand",
    launchTime: ec2Instance.LaunchTime,
    stateReason: reason === "" ? undefined : reason,
    instanceType: ec2Instance.InstanceType,
    privateIpAddress: ec2Instance.PrivateIpAddress,
  };
}

function resultOf(host: ManagedHost): ProvisionResult {
  return { providerId: host.ec2InstanceId, ...(host.privateIpAddress ? { hostAddress: host.privateIpAddress } : {}), market: host.market };
}

function errorCode(error: unknown): string {
  if (error instanceof Ec2ProvisionError) return error.code;
  if (error instanceof Error) {
    const code = (error as Error & { Code?: unknown }).Code;
    return typeof code === "string" ? code : error.name;
  }
  return "Unknown";
}

function wrap(error: unknown, what: string): Ec2ProvisionError {
  const code = errorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return new Ec2ProvisionError(`${what}: ${code}: ${message}`, code, error);
}
