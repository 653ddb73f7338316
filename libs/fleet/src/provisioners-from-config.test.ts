import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { services } from "@devenv/testing";
import { provisionedAction } from "./audited-provisioner.ts";
import { Ec2ProvisionError, type Ec2ProvisionerEvent } from "./ec2-provisioner.ts";
import { ec2Tags } from "./ec2-tags.ts";
import { LocalProvisioner } from "./local-provisioner.ts";
import { ProvisionersConfig } from "./provisioner-config.ts";
import { createProvisioners, type ConfiguredProvisioners, type ProvisionerDeps, type SecretRef } from "./provisioners-from-config.ts";
import { defaultSubnets, fleetTestEnv, region, userDataOf, type FleetTestEnv } from "./testing/fleet-test-env.ts";
import { startSpotRefusingProxy, type LaunchRefusal, type SpotRefusingProxy } from "./testing/spot-refusing-proxy.ts";

describe("provisioners from the control plane's config (moto)", () => {
  let env: FleetTestEnv;
  let dir: string;
  let subnets: { subnetId: string; zone: string }[];
  const opened: (ConfiguredProvisioners | SpotRefusingProxy)[] = [];
  beforeAll(async () => {
    env = await fleetTestEnv();
    dir = mkdtempSync(join(tmpdir(), "devenv-provisioners-config-"));
    subnets = await defaultSubnets(env.client, 2);
  });
  afterAll(async () => {
    for (const thing of opened) await thing.close();
    await env?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const secrets: Record<string, string> = { DEVENV_SHARED_1_JOIN_TOKEN: "jt_standing_shared_1" };
  const deps = (events: Ec2ProvisionerEvent[] = []): ProvisionerDeps => ({
    store: env.store,
    localAgentUrl: "ws://127.0.0.1:7070/agent",
    publicAgentUrl: "wss://devenv.example.com/agent",
    instancesDir: join(dir, "instances"),
    resolveSecret: (ref: SecretRef) => {
      if ("file" in ref) return readFileSync(ref.file, "utf8").trim();
      const value = secrets[ref.env];
      if (value === undefined) throw new Error(`${ref.env} is not set`);
      return value;
    },
    agentTarballUrl: (instance) => `https://releases.example.com/devenv-agent-1.0.0.tgz?for=${instance.id}`,
    ec2Credentials: { accessKeyId: "test", secretAccessKey: "test" },
    onEvent: (event) => events.push(event),
  });

  /** EC2 in front of moto refusing `refusals`, for personal instances; static shared hosts. */
  async function ec2AndStatic(personal: Record<string, unknown>, refusals: LaunchRefusal[], events: Ec2ProvisionerEvent[] = []) {
    const proxy = await startSpotRefusingProxy(services().moto.endpoint, { refusals });
    opened.push(proxy);
    const tokenFile = join(dir, "shared-2-join-token");
    writeFileSync(tokenFile, "jt_standing_shared_2\n");
    const config = ProvisionersConfig.parse({
      personal: {
        kind: "ec2",
        region,
        endpoint: proxy.endpoint,
        launchTemplate: env.launchTemplate.name,
        launchTemplateVersion: "1",
        instanceTypes: ["r7g.large", "m7g.large"],
        subnets: subnets.map((subnet) => subnet.subnetId),
        market: "spot",
        fallback: "on-demand",
        tags: { "cost-centre": "dev-tools" },
        fleet: env.fleet,
        ...personal,
      },
      shared: {
        kind: "static",
        hosts: [
          { name: "config-shared-1", address: "10.0.7.1", joinToken: { env: "DEVENV_SHARED_1_JOIN_TOKEN" } },
          { name: "config-shared-2", address: "10.0.7.2", port: 19042, joinToken: { file: tokenFile } },
          { name: "config-shared-3", address: "10.0.7.3" },
        ],
      },
    });
    const provisioners = await createProvisioners(config, deps(events));
    opened.push(provisioners);
    return { provisioners, proxy };
  }

  const describeHost = async (ec2InstanceId: string) =>
    (await env.client.send(new DescribeInstancesCommand({ InstanceIds: [ec2InstanceId] }))).Reservations?.[0]?.Instances?.[0];

  it("serves personal instances from ec2 and shared ones from static hosts, each audited", async () => {
    const { provisioners } = await ec2AndStatic({}, []);
    expect(Object.keys(provisioners.byKind).sort()).toEqual(["ec2", "static"]);
    expect(provisioners.forInstanceKind("personal")).toBe(provisioners.byKind.ec2);
    expect(provisioners.forInstanceKind("shared")).toBe(provisioners.byKind.static);
    expect(provisioners.local).toBeUndefined();
    expect(provisioners.staticHosts?.standingJoinToken("config-shared-1")).toBe("jt_standing_shared_1");
    expect(provisioners.staticHosts?.standingJoinToken("config-shared-2")).toBe("jt_standing_shared_2");
    expect(provisioners.staticHosts?.standingJoinToken("config-shared-3")).toBeUndefined();

    const personal = await env.newInstance();
    const launched = await provisioners.forInstanceKind("personal").provision(personal, "jt_personal");
    expect(launched.market).toBe("spot");
    // the user data comes from the repository's cloud-init template
    expect(await userDataOf(env.client, launched.providerId!)).toContain("jt_personal");
    expect((await provisioners.ec2Hosts!.listHosts()).map((host) => host.ec2InstanceId)).toContain(launched.providerId);

    const shared = await env.newInstance({ kind: "shared", provisioner: "static" });
    expect(await provisioners.forInstanceKind("shared").provision(shared, "jt_shared")).toEqual({
      providerId: "config-shared-1",
      hostAddress: "10.0.7.1",
      hostPort: 9042,
    });
    for (const instance of [personal, shared]) {
      expect(await env.store.audit.list({ subject: `instance:${instance.id}`, action: provisionedAction })).toHaveLength(1);
    }
  });

  it("tries the next instance type and subnet when EC2 refuses, and tags the host with devenv's and the config's tags", async () => {
    const [first, second] = subnets;
    const { provisioners, proxy } = await ec2AndStatic({}, [
      { instanceType: "r7g.large", code: "InsufficientInstanceCapacity"},
      { subnet: first!.subnetId, code: "InsufficientFreeAddressesInSubnet" },
    ]);
    const instance = await env.newInstance({ ownerName: "ines" });
    const result = await provisioners.forInstanceKind("personal").provision(instance, "jt_placed");
    expect(proxy.tries.map(({ market, instanceType, subnet }) => [market, instanceType, subnet])).toEqual([
      ["spot", "r7g.large", first!.subnetId],
      ["spot", "r7g.large", second!.subnetId],
      ["spot", "m7g.large", first!.subnetId],
      ["spot", "m7g.large", second!.subnetId],
    ]);
    expect(result.market).toBe("spot");
    const host = await describeHost(result.providerId!);
    expect(host).toMatchObject({ InstanceType: "m7g.large", SubnetId: second!.subnetId, InstanceLifecycle: "spot", ImageId: env.launchTemplate.imageId });
    expect(Object.fromEntries((host?.Tags ?? []).map((tag) => [tag.Key, tag.Value]))).toEqual({
      [ec2Tags.managed]: "true",
      [ec2Tags.fleet]: env.fleet,
      [ec2Tags.instanceId]: instance.id,
      [ec2Tags.owner]: instance.ownerId,
      [ec2Tags.purpose]: "personal",
      [ec2Tags.market]: "spot",
      [ec2Tags.name]: `devenv-personal-${instance.id.slice(0, 8)}`,
      "cost-centre": "dev-tools",
      // EC2's own: the template the config named by name
      "aws:ec2launchtemplate:id": env.launchTemplate.id,
      "aws:ec2launchtemplate:version": "1",
    });
  });

  it("falls back to on-demand when every spot placement is refused, and says so", async () => {
    const events: Ec2ProvisionerEvent[] = [];
    const { provisioners } = await ec2AndStatic({}, [{ market: "spot", code: "InsufficientInstanceCapacity"}], events);
    const instance = await env.newInstance();
    const result = await provisioners.forInstanceKind("personal").provision(instance, "jt_fallback");
    expect(result.market).toBe("on-demand");
    const host = await describeHost(result.providerId!);
    expect(host).toMatchObject({ InstanceType: "r7g.large", SubnetId: subnets[0]!.subnetId });
    expect(host?.InstanceLifecycle).toBeUndefined();
    expect(events.map((event) => event.type)).toEqual(["launch-refused", "launch-refused", "launch-refused", "launch-refused", "spot-refused", "launched"]);
    expect(events.find((event) => event.type === "spot-refused")).toMatchObject({ instanceId: instance.id, code: "InsufficientInstanceCapacity", fallback: true });
    const [audit] = await env.store.audit.list({ subject: `instance:${instance.id}`, action: provisionedAction });
    expect(audit?.detail).toMatchObject({ provisioner: "ec2", market: "on-demand", providerId: result.providerId });
  });

  it("surfaces the spot refusal as the provision's error when the fallback is none", async () => {
    const events: Ec2ProvisionerEvent[] = [];
    const { provisioners, proxy } = await ec2AndStatic({ fallback: "none" }, [{ market: "spot", code: "InsufficientInstanceCapacity"}], events);
    const instance = await env.newInstance();
    const error = await provisioners.forInstanceKind("personal").provision(instance, "jt_none").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Ec2ProvisionError);
    expect(error).toMatchObject({ code: "InsufficientInstanceCapacity" });
    expect((error as Error).message).toMatch(/cannot start a spot EC2 instance for devenv instance .*EC2 refused every try/);
    expect(proxy.tries.every((launch) => launch.market === "spot")).toBe(true);
    expect(events.find((event) => event.type === "spot-refused")).toMatchObject({ fallback: false });
    expect(await provisioners.ec2Hosts!.listHosts().then((hosts) => hosts.filter((host) => host.devenvInstanceId === instance.id))).toEqual([]);
    expect(await env.store.audit.list({ subject: `instance:${instance.id}`, action: provisionedAction })).toEqual([]);
  });

  it("starts personal and shared instances with their own kind's settings when both use ec2", async () => {
    const ec2 = { kind: "ec2", region, endpoint: services().moto.endpoint, launchTemplate: env.launchTemplate.id, fleet: env.fleet };
    const config = ProvisionersConfig.parse({
      personal: { ...ec2, instanceTypes: ["m7g.large"] },
      shared: { ...ec2, instanceTypes: ["r7g.xlarge"], market: "on-demand", subnets: [subnets[1]!.subnetId] },
    });
    const provisioners = await createProvisioners(config, deps());
    opened.push(provisioners);
    expect(Object.keys(provisioners.byKind)).toEqual(["ec2"]);
    const personal = await env.newInstance();
    const shared = await env.newInstance({ kind: "shared" });
    const personalHost = await describeHost((await provisioners.forInstanceKind("personal").provision(personal, "jt_p")).providerId!);
    const sharedHost = await describeHost((await provisioners.forInstanceKind("shared").provision(shared, "jt_s")).providerId!);
    expect(personalHost).toMatchObject({ InstanceType: "m7g.large", InstanceLifecycle: "spot" });
    expect(sharedHost).toMatchObject({ InstanceType: "r7g.xlarge", SubnetId: subnets[1]!.subnetId });
    expect(sharedHost?.InstanceLifecycle).toBeUndefined();

    await provisioners.byKind.ec2!.terminate({ ...shared, providerId: sharedHost!.InstanceId! });
    const hosts = await provisioners.ec2Hosts!.listHosts();
    expect(hosts.find((host) => host.ec2InstanceId === sharedHost!.InstanceId)?.state).toBe("terminated");
    expect(hosts.find((host) => host.ec2InstanceId === personalHost!.InstanceId)?.state).toBe("running");

    expect(() => ProvisionersConfig.parse({ personal: ec2, shared: { ...ec2, fleet: "other" } })).toThrow(/same fleet/);
  });

  it("runs local instances only when it can start agents, and names a host whose join token cannot be read", async () => {
    const withoutAgent = await createProvisioners(ProvisionersConfig.parse({}), deps());
    expect(withoutAgent.byKind).toEqual({});
    expect(() => withoutAgent.forInstanceKind("shared")).toThrow(/shared instances use the local provisioner, which cannot start agents here/);

    const withAgent = await createProvisioners(ProvisionersConfig.parse({ personal: { kind: "local", heap: "1G" } }), { ...deps(), agentCommand: ["/bin/false"] });
    expect(withAgent.local).toBeInstanceOf(LocalProvisioner);
    expect(withAgent.forInstanceKind("personal")).toBe(withAgent.byKind.local);
    expect(withAgent.forInstanceKind("shared")).toBe(withAgent.byKind.local);
    expect(withAgent.ec2Hosts).toBeUndefined();

    const unreadable = ProvisionersConfig.parse({ shared: { kind: "static", hosts: [{ name: "no-token", address: "10.0.8.1", joinToken: { env: "DEVENV_UNSET_TOKEN" } }] } });
    await expect(createProvisioners(unreadable, deps())).rejects.toThrow(/static host no-token: cannot read its join token: DEVENV_UNSET_TOKEN is not set/);
  });
});
