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

/**
 * Errors with which EC2 says "not here, not now": no capacity for the instance type in that
 * subnet's zone (or the type is not offered there), no address left in the subnet, or a spot
 * price or count limit. Each moves provisioning on to the next instance type or subnet,
 * then to on-demand; any other error fails the provision at once.
 */
export const ec2CapacityErrorCodes: readonly string[] = [
  "InsufficientInstanceCapacity",
  "InsufficientCapacityOnHost",
  "InsufficientFreeAddressesInSubnet",
  "Unsupported",
  "SpotMaxPriceTooLow",
  "MaxSpotInstanceCountExceeded",
];

export interface LaunchTemplateRef {
  /** lt-…; give this or `name`. */
  id?: string;
  name?: string;
  /** A version number, `$Latest` or `$Default` (the default). */
  version?: string;
}

/** A launch template as the config names it: its id when it looks like one (lt- and hex), else its name. */
export function launchTemplateRef(nameOrId: string, version?: string): LaunchTemplateRef {
  const ref: LaunchTemplateRef = /^lt-[0-9a-f]{8,}$/.test(nameOrId) ? { id: nameOrId } : { name: nameOrId };
  return version === undefined ? ref : { ...ref, version };
}

export interface Ec2ProvisionerOptions {
  client: EC2Client;
  launchTemplate: LaunchTemplateRef;
  /** The agent endpoint hosts dial, e.g. wss://devenv.example.com/agent (a function when known only once listening). */
  controlPlaneUrl: string | (() => string);
  /** The cloud-config text with `{{placeholders}}` (infra/cloud-init/agent-user-data.yaml). */
  userDataTemplate: string;
  /** Where hosts fetch the agent release: a URL, or a function that signs one per instance. */
  agentTarballUrl: string | ((instance: Instance) => string | Promise<string>);
  /** The data volume's mount point (default /var/lib/cassandra). */
  cassandraDataDir?: string;
  /** Value of the `devenv:fleet` tag: keeps control planes sharing an account apart (default "default"). */
  fleet?: string;
  /** Tried in order when EC2 has no capacity for one (default: the template's own type). */
  instanceTypes?: readonly string[];
  /** Tried in order, for each instance type, when a subnet has no capacity or addresses (default: the template's own network). */
  subnets?: readonly string[];
  /** How hosts are bought (default spot). */
  market?: Market;
  /** When every spot launch is refused for capacity: try on-demand (the default) or fail. */
  fallback?: "on-demand" | "none";
  /** Highest spot price per hour in USD (default: EC2's, the on-demand price). */
  maxSpotPrice?: string;
  /** More tags for every host (cost centre...). `devenv:` keys and Name are devenv's own. */
  tags?: Record<string, string>;
  /** Told about decisions worth a log line: each refused launch, a spot refusal and its fallback. */
  onEvent?: (event: Ec2ProvisionerEvent) => void;
}

export type Ec2ProvisionerEvent =
  /** One RunInstances refused for capacity; the next instance type, subnet or market follows if there is one. */
  | { type: "launch-refused"; instanceId: string; market: Market; instanceType: string | undefined; subnet: string | undefined; code: string; message: string }
  /** Every spot launch was refused: `fallback` says whether on-demand is tried next. */
  | { type: "spot-refused"; instanceId: string; code: string; message: string; fallback: boolean }
  | { type: "launched"; instanceId: string; ec2InstanceId: string; market: Market; instanceType: string | undefined; subnet: string | undefined }
  | { type: "adopted"; instanceId: string; ec2InstanceId: string };

/** Where one RunInstances asks for a host: undefined leaves the choice to the launch template. */
interface Placement {
  instanceType: string | undefined;
  subnet: string | undefined;
}

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
 * Starts devenv hosts on EC2 from a launch template, spot (one-time, terminated on
 * interruption) or on-demand. When EC2 refuses a launch for capacity it tries the next
 * placement: every subnet for the first instance type, then every subnet for the second,
 * and so on, because the instance type is what the operator sized and priced while the
 * subnet (its zone) is indifferent to the developer; a subnet out of addresses is skipped
 * for the types that follow. When every spot placement is refused, the same placements are
 * tried on-demand unless `fallback` is "none".
 *
 * Every host is tagged with its catalogue instance, so a repeated `provision` adopts the
 * host an earlier attempt started, and `terminate` finds hosts whose id never reached the
 * catalogue.
 */
export class Ec2Provisioner implements Provisioner, ManagedHostDirectory {
  readonly kind = "ec2" as const;
  readonly fleet: string;
  readonly market: Market;
  readonly #options: Ec2ProvisionerOptions;
  readonly #placements: readonly Placement[];

  constructor(options: Ec2ProvisionerOptions) {
    const { id, name } = options.launchTemplate;
    if ((id === undefined) === (name === undefined)) throw new Error("launchTemplate needs exactly one of id and name");
    for (const key of Object.keys(options.tags ?? {})) {
      if (key.startsWith("devenv:") || key === ec2Tags.name) throw new Error(`tags: ${key} is set by devenv itself`);
    }
    this.#options = options;
    this.fleet = options.fleet ?? "default";
    this.market = options.market ?? "spot";
    const instanceTypes = options.instanceTypes?.length ? options.instanceTypes : [undefined];
    const subnets = options.subnets?.length ? options.subnets : [undefined];
    this.#placements = instanceTypes.flatMap((instanceType) => subnets.map((subnet) => ({ instanceType, subnet })));
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
      control_plane_url: this.#controlPlaneUrl(),
      join_token: joinToken,
      agent_tarball_url: await this.#agentTarballUrl(instance),
      cassandra_data_dir: this.#options.cassandraDataDir ?? "/var/lib/cassandra",
    });
    const markets: Market[] = this.market === "on-demand" ? ["on-demand"] : this.#options.fallback === "none" ? ["spot"] : ["spot", "on-demand"];
    const refusals: { market: Market; placement: Placement; error: Ec2ProvisionError }[] = [];
    const subnetsWithoutAddresses = new Set<string>();
    for (const market of markets) {
      for (const [index, placement] of this.#placements.entries()) {
        if (placement.subnet !== undefined && subnetsWithoutAddresses.has(placement.subnet)) continue;
        try {
          return await this.#run(instance, userData, market, placement, index + 1);
        } catch (error) {
          if (!(error instanceof Ec2ProvisionError) || !ec2CapacityErrorCodes.includes(error.code)) throw error;
          refusals.push({ market, placement, error });
          this.#options.onEvent?.({ type: "launch-refused", instanceId: instance.id, market, ...placement, code: error.code, message: error.message });
          if (error.code === "InsufficientFreeAddressesInSubnet" && placement.subnet !== undefined) subnetsWithoutAddresses.add(placement.subnet);
          // the account's spot limit: no other placement gets a spot host either
          if (error.code === "MaxSpotInstanceCountExceeded") break;
        }
      }
      const last = refusals.at(-1);
      if (market === "spot" && last) {
        this.#options.onEvent?.({ type: "spot-refused", instanceId: instance.id, code: last.error.code, message: last.error.message, fallback: markets.includes("on-demand") });
      }
    }
    // the first placement is always tried, so there is a refusal to report
    const last = refusals.at(-1)!;
    const tried = refusals.map(({ market, placement, error }) => `${market} ${describePlacement(placement)}: ${error.code}`).join("; ");
    throw new Ec2ProvisionError(
      `cannot start a ${markets.join(" or ")} EC2 instance for devenv instance ${instance.id}: EC2 refused every try (${tried}); add instance types or subnets to the config, or try later`,
      last.error.code,
      last.error,
    );
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

  async #run(instance: Instance, userData: string, market: Market, placement: Placement, attempt: number): Promise<ProvisionResult> {
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
      // idempotent per instance, market and placement: a retried call returns the first launch
      // (the placement's number, not its names, keeps the token within EC2's 64 characters)
      ClientToken: `${instance.id}:${market}:${attempt}`,
      TagSpecifications: tagSpecifications,
      ...(placement.instanceType ? { InstanceType: placement.instanceType as _InstanceType } : {}),
      ...(placement.subnet ? { SubnetId: placement.subnet } : {}),
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
      throw wrap(error, `cannot start a ${market} EC2 instance (${describePlacement(placement)}) for devenv instance ${instance.id}`);
    }
    if (!launched?.InstanceId) throw new Ec2ProvisionError(`RunInstances for devenv instance ${instance.id} returned no instance`, "EmptyResponse");
    this.#options.onEvent?.({
      type: "launched",
      instanceId: instance.id,
      ec2InstanceId: launched.InstanceId,
      market,
      instanceType: launched.InstanceType ?? placement.instanceType,
      subnet: launched.SubnetId ?? placement.subnet,
    });
    return { providerId: launched.InstanceId, ...(launched.PrivateIpAddress ? { hostAddress: launched.PrivateIpAddress } : {}), market };
  }

  #tagsFor(instance: Instance, market: Market): { Key: string; Value: string }[] {
    const tags: Record<string, string> = {
      ...this.#options.tags,
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

  #controlPlaneUrl(): string {
    const url = typeof this.#options.controlPlaneUrl === "string" ? this.#options.controlPlaneUrl : this.#options.controlPlaneUrl();
    if (url === "") throw new Error("the control plane's agent URL is not known yet (the server is not listening)");
    return url;
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

function describePlacement(placement: Placement): string {
  return `${placement.instanceType ?? "the template's instance type"} in ${placement.subnet ?? "the template's subnet"}`;
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
