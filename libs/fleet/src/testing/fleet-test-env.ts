import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeSubnetsCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { ManualClock } from "@devenv/core/testing";
import { openStore, type Instance, type InstanceKind, type Store } from "@devenv/store";
import { services, uniqueName } from "@devenv/testing";
import { Ec2Provisioner, describeEc2Instance, type Ec2ProvisionerOptions } from "../ec2-provisioner.ts";
import { ec2Tags } from "../ec2-tags.ts";
import { InstanceManager } from "../instance-manager.ts";
import type { Provisioners } from "../provisioner.ts";
import { readAgentUserDataTemplate } from "../user-data.ts";

export const region = "us-east-1";

export const minutes = (n: number) => n * 60_000;

export function ec2Client(endpoint = services().moto.endpoint): EC2Client {
  return new EC2Client({ region, endpoint, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
}

/** A launch template moto accepts, with one of moto's own images. */
export async function createLaunchTemplate(client: EC2Client): Promise<{ id: string; name: string; imageId: string }> {
  const images = await client.send(new DescribeImagesCommand({ MaxResults: 5 }));
  const imageId = images.Images?.[0]?.ImageId;
  if (!imageId) throw new Error("moto lists no images");
  const name = uniqueName("devenv-agent");
  const created = await client.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: name,
      LaunchTemplateData: { ImageId: imageId, InstanceType: "r7g.large", MetadataOptions: { HttpTokens: "required", HttpPutResponseHopLimit: 1 } },
    }),
  );
  const id = created.LaunchTemplate?.LaunchTemplateId;
  if (!id) throw new Error("moto created no launch template");
  return { id, name, imageId };
}

/** The default VPC's subnet in each of `count` availability zones (moto makes one per zone). */
export async function defaultSubnets(client: EC2Client, count: number): Promise<{ subnetId: string; zone: string }[]> {
  const described = await client.send(new DescribeSubnetsCommand({ Filters: [{ Name: "default-for-az", Values: ["true"] }] }));
  const subnets = (described.Subnets ?? [])
    .flatMap((subnet) => (subnet.SubnetId && subnet.AvailabilityZone ? [{ subnetId: subnet.SubnetId, zone: subnet.AvailabilityZone }] : []))
    .sort((a, b) => a.zone.localeCompare(b.zone))
    .slice(0, count);
  if (subnets.length < count) throw new Error(`moto lists ${subnets.length} default subnets, not ${count}`);
  return subnets;
}

export interface FleetTestEnv {
  store: Store;
  clock: ManualClock;
  client: EC2Client;
  fleet: string;
  launchTemplate: { id: string; name: string; imageId: string };
  userDataTemplate: string;
  /** An EC2 provisioner of this env's fleet; `overrides` change its options. */
  ec2(overrides?: Partial<Ec2ProvisionerOptions>): Ec2Provisioner;
  /** The instance manager over this env's store, ending hosts through `provisioners`. */
  instances(provisioners: Provisioners): InstanceManager;
  /** A user and an instance in state `requested`. */
  newInstance(input?: { kind?: InstanceKind; provisioner?: Instance["provisioner"]; ttlExpiresAt?: Date; providerId?: string; ownerName?: string }): Promise<Instance>;
  close(): Promise<void>;
}

/** A SQLite store in a temp dir, a clock, and an EC2 fleet (its own `devenv:fleet` tag) on the run's moto. */
export async function fleetTestEnv(): Promise<FleetTestEnv> {
  const dir = mkdtempSync(join(tmpdir(), "devenv-fleet-test-"));
  // real time: EC2 launch times (moto's) are compared with it
  const clock = new ManualClock(new Date());
  const store = await openStore({ url: `sqlite:${join(dir, "devenv.db")}`, clock });
  const client = ec2Client();
  const launchTemplate = await createLaunchTemplate(client);
  const userDataTemplate = await readAgentUserDataTemplate();
  const fleet = uniqueName("fleet");
  const users = new Map<string, string>();
  return {
    store,
    clock,
    client,
    fleet,
    launchTemplate,
    userDataTemplate,
    ec2: (overrides = {}) =>
      new Ec2Provisioner({
        client,
        launchTemplate: { id: launchTemplate.id },
        controlPlaneUrl: "wss://devenv.example.com/agent",
        userDataTemplate,
        agentTarballUrl: "https://releases.example.com/devenv-agent-1.0.0.tgz",
        fleet,
        ...overrides,
      }),
    instances: (provisioners) =>
      new InstanceManager({
        store,
        clock,
        provisioners: {
          byKind: provisioners,
          forInstanceKind: () => {
            const [first] = Object.values(provisioners);
            if (!first) throw new Error("no provisioner in this test");
            return first;
          },
        },
        // fleet tests assign nothing: an assignment would fail loudly here
        snapshots: { locate: (snapshotId) => Promise.reject(new Error(`no snapshot store in fleet tests (asked for ${snapshotId})`)) },
      }),
    async newInstance(input = {}) {
      const ownerName = input.ownerName ?? "dana";
      let ownerId = users.get(ownerName);
      if (!ownerId) {
        ownerId = (await store.users.create({ name: ownerName, role: "developer" })).id;
        users.set(ownerName, ownerId);
      }
      return store.instances.create({
        ownerId,
        kind: input.kind ?? "personal",
        provisioner: input.provisioner ?? "ec2",
        ttlExpiresAt: input.ttlExpiresAt ?? null,
        providerId: input.providerId ?? null,
      });
    },
    async close() {
      await store.close();
      client.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Provisions through `provisioner` and records the result the way the control plane does. */
export async function provisionAndRecord(env: FleetTestEnv, provisioner: Ec2Provisioner, instance: Instance, to: "registering" | "ready" = "registering"): Promise<Instance> {
  const { store } = env;
  await store.instances.transition(instance.id, { to: "provisioning" });
  const { plaintext } = await store.joinTokens.issue(instance.id);
  const result = await provisioner.provision(await store.instances.get(instance.id), plaintext);
  let current = await store.instances.transition(instance.id, {
    to: "registering",
    patch: { providerId: result.providerId ?? null, hostAddress: result.hostAddress ?? null },
  });
  if (to === "ready") current = await store.instances.transition(instance.id, { to: "ready" });
  return current;
}

/** A host with devenv's tags started behind devenv's back (as a crashed control plane would leave it). */
export async function launchTaggedHost(env: FleetTestEnv, tags: Record<string, string>): Promise<string> {
  const response = await env.client.send(
    new RunInstancesCommand({
      MinCount: 1,
      MaxCount: 1,
      LaunchTemplate: { LaunchTemplateId: env.launchTemplate.id },
      TagSpecifications: [
        {
          ResourceType: "instance",
          Tags: Object.entries({ [ec2Tags.managed]: "true", [ec2Tags.fleet]: env.fleet, ...tags }).map(([Key, Value]) => ({ Key, Value })),
        },
      ],
    }),
  );
  const id = response.Instances?.[0]?.InstanceId;
  if (!id) throw new Error("moto started no instance");
  return id;
}

export async function terminateBehindOurBack(client: EC2Client, ec2InstanceId: string): Promise<void> {
  await client.send(new TerminateInstancesCommand({ InstanceIds: [ec2InstanceId] }));
}

export async function ec2State(client: EC2Client, ec2InstanceId: string): Promise<string | undefined> {
  return (await describeEc2Instance(client, ec2InstanceId))?.State?.Name;
}

export async function userDataOf(client: EC2Client, ec2InstanceId: string): Promise<string> {
  const attribute = await client.send(new DescribeInstanceAttributeCommand({ InstanceId: ec2InstanceId, Attribute: "userData" }));
  return Buffer.from(attribute.UserData?.Value ?? "", "base64").toString("utf8");
}
