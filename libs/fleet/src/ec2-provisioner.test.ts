import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { services } from "@devenv/testing";
import { Ec2ProvisionError, launchTemplateRef, type Ec2ProvisionerEvent, type Ec2ProvisionerOptions } from "./ec2-provisioner.ts";
import { ec2Tags } from "./ec2-tags.ts";
import { defaultSubnets, ec2Client, ec2State, fleetTestEnv, userDataOf, type FleetTestEnv } from "./testing/fleet-test-env.ts";
import { startSpotRefusingProxy, type SpotRefusingProxy } from "./testing/spot-refusing-proxy.ts";

describe("EC2 provisioner (moto)", () => {
  let env: FleetTestEnv;
  beforeAll(async () => {
    env = await fleetTestEnv();
  });
  afterAll(async () => env?.close());

  it("launches a personal instance on spot from the launch template, tagged, with the rendered user data", async () => {
    const instance = await env.newInstance({ ownerName: "ines" });
    const provisioner = env.ec2();
    const result = await provisioner.provision(instance, "jt_spot_token");
    expect(result.market).toBe("spot");
    expect(result.providerId).toMatch(/^i-/);
    expect(result.hostAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    const described = await env.client.send(new DescribeInstancesCommand({ InstanceIds: [result.providerId!] }));
    const ec2Instance = described.Reservations?.[0]?.Instances?.[0];
    expect(ec2Instance?.InstanceLifecycle).toBe("spot");
    expect(ec2Instance?.ImageId).toBe(env.launchTemplate.imageId);
    const tags = Object.fromEntries((ec2Instance?.Tags ?? []).map((tag) => [tag.Key, tag.Value]));
    expect(tags).toMatchObject({
      [ec2Tags.managed]: "true",
      [ec2Tags.fleet]: env.fleet,
      [ec2Tags.instanceId]: instance.id,
      [ec2Tags.owner]: instance.ownerId,
      [ec2Tags.purpose]: "personal",
      [ec2Tags.market]: "spot",
      Name: `devenv-personal-${instance.id.slice(0, 8)}`,
    });

    const userData = await userDataOf(env.client, result.providerId!);
    const config = parse(userData) as { write_files: { path: string; content: string }[] };
    expect(config.write_files.find((file) => file.path === "/etc/devenv/join-token")?.content).toBe("jt_spot_token");
    expect(JSON.parse(config.write_files.find((file) => file.path === "/etc/devenv/agent.json")?.content ?? "").controlPlaneUrl).toBe(
      "wss://devenv.example.com/agent",
    );

    const [host] = await provisioner.hostsOf(instance.id);
    expect(host).toMatchObject({ ec2InstanceId: result.providerId, devenvInstanceId: instance.id, market: "spot", purpose: "personal" });
  });

  it("a repeated provision adopts the host it already started instead of launching a second", async () => {
    const instance = await env.newInstance();
    const events: Ec2ProvisionerEvent[] = [];
    const provisioner = env.ec2({ onEvent: (event) => events.push(event) });
    const first = await provisioner.provision(instance, "jt_1");
    const second = await provisioner.provision(instance, "jt_2");
    expect(second.providerId).toBe(first.providerId);
    expect(await provisioner.hostsOf(instance.id)).toHaveLength(1);
    expect(events.map((event) => event.type)).toEqual(["launched", "adopted"]);
  });

  it("buys every kind of instance on the configured market: spot by default, on-demand when asked", async () => {
    const shared = await env.newInstance({ kind: "shared" });
    expect((await env.ec2().provision(shared, "jt_shared")).market).toBe("spot");

    const personal = await env.newInstance();
    const result = await env.ec2({ market: "on-demand" }).provision(personal, "jt_p");
    expect(result.market).toBe("on-demand");
    const described = await env.client.send(new DescribeInstancesCommand({ InstanceIds: [result.providerId!] }));
    expect(described.Reservations?.[0]?.Instances?.[0]?.InstanceLifecycle).toBeUndefined();
  });

  it("terminates the catalogue's host, and hosts tagged for the instance whose id was never recorded", async () => {
    const provisioner = env.ec2();
    const instance = await env.newInstance();
    const { providerId } = await provisioner.provision(instance, "jt_t");
    await provisioner.terminate({ ...instance, providerId: providerId! });
    expect(await ec2State(env.client, providerId!)).toBe("terminated");
    // terminating again (or a host that is gone) succeeds
    await provisioner.terminate({ ...instance, providerId: providerId! });

    const lost = await env.newInstance();
    const launched = await provisioner.provision(lost, "jt_lost");
    await provisioner.terminate(lost); // providerId null in the catalogue
    expect(await ec2State(env.client, launched.providerId!)).toBe("terminated");
  });

  it("refuses an instance of another provisioner and a launch template named twice", async () => {
    const local = await env.newInstance({ provisioner: "local" });
    await expect(env.ec2().provision(local, "jt")).rejects.toThrow(/belongs to the local provisioner, not ec2/);
    expect(() => env.ec2({ launchTemplate: { id: "lt-1", name: "x" } })).toThrow(/exactly one of id and name/);
    expect(() => env.ec2({ tags: { "devenv:owner": "x" } })).toThrow(/tags: devenv:owner is set by devenv itself/);
    expect(() => env.ec2({ tags: { Name: "x" } })).toThrow(/tags: Name is set by devenv itself/);
  });

  it("launches from a template named by name and version", async () => {
    const instance = await env.newInstance();
    const result = await env.ec2({ launchTemplate: launchTemplateRef(env.launchTemplate.name, "1") }).provision(instance, "jt_name");
    expect(await ec2State(env.client, result.providerId!)).toBe("running");
    expect(launchTemplateRef(env.launchTemplate.id)).toEqual({ id: env.launchTemplate.id });
    expect(launchTemplateRef("lt-devenv")).toEqual({ name: "lt-devenv" });
  });

  it("launches the configured instance type into the configured subnet, with the config's tags", async () => {
    const [, second] = await defaultSubnets(env.client, 2);
    const instance = await env.newInstance();
    const events: Ec2ProvisionerEvent[] = [];
    const result = await env
      .ec2({ instanceTypes: ["m7g.large"], subnets: [second!.subnetId], tags: { "cost-centre": "dev-tools" }, onEvent: (event) => events.push(event) })
      .provision(instance, "jt_placed");
    const ec2Instance = (await env.client.send(new DescribeInstancesCommand({ InstanceIds: [result.providerId!] }))).Reservations?.[0]?.Instances?.[0];
    expect(ec2Instance).toMatchObject({ InstanceType: "m7g.large", SubnetId: second!.subnetId, Placement: { AvailabilityZone: second!.zone } });
    expect(ec2Instance?.Tags).toContainEqual({ Key: "cost-centre", Value: "dev-tools" });
    expect(events).toEqual([
      { type: "launched", instanceId: instance.id, ec2InstanceId: result.providerId, market: "spot", instanceType: "m7g.large", subnet: second!.subnetId },
    ]);
  });

  describe("when spot capacity is refused", () => {
    let proxy: SpotRefusingProxy;
    beforeAll(async () => {
      proxy = await startSpotRefusingProxy(services().moto.endpoint);
    });
    afterAll(async () => proxy?.close());

    const throughProxy = (overrides: Partial<Ec2ProvisionerOptions> = {}) =>
      env.ec2({ client: ec2Client(proxy.endpoint), ...overrides });

    it("falls back to on-demand and says so", async () => {
      const instance = await env.newInstance();
      const events: Ec2ProvisionerEvent[] = [];
      const refusedBefore = proxy.refused;
      const result = await throughProxy({ onEvent: (event) => events.push(event) }).provision(instance, "jt_fallback");
      expect(proxy.refused).toBeGreaterThan(refusedBefore);
      expect(result.market).toBe("on-demand");
      const described = await env.client.send(new DescribeInstancesCommand({ InstanceIds: [result.providerId!] }));
      const ec2Instance = described.Reservations?.[0]?.Instances?.[0];
      expect(ec2Instance?.InstanceLifecycle).toBeUndefined();
      expect(ec2Instance?.Tags?.find((tag) => tag.Key === ec2Tags.market)?.Value).toBe("on-demand");
      expect(events.find((event) => event.type === "spot-refused")).toMatchObject({ code: "InsufficientInstanceCapacity", fallback: true });
      expect(await userDataOf(env.client, result.providerId!)).toContain("jt_fallback");
    });

    it("fails with the refusal and launches nothing when the fallback is disabled", async () => {
      const instance = await env.newInstance();
      const provisioner = throughProxy({ fallback: "none" });
      const error = await provisioner.provision(instance, "jt_nofallback").catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(Ec2ProvisionError);
      expect((error as Ec2ProvisionError).code).toBe("InsufficientInstanceCapacity");
      expect((error as Error).message).toMatch(/cannot start a spot EC2 instance for devenv instance .*InsufficientInstanceCapacity/);
      expect(await provisioner.hostsOf(instance.id)).toEqual([]);
    });

    it("does not fall back for errors that are not about capacity", async () => {
      const denied = await startSpotRefusingProxy(services().moto.endpoint, { code: "UnauthorizedOperation", status: 403 });
      try {
        const instance = await env.newInstance();
        const provisioner = env.ec2({ client: ec2Client(denied.endpoint) });
        await expect(provisioner.provision(instance, "jt_denied")).rejects.toMatchObject({ code: "UnauthorizedOperation" });
        expect(denied.refused).toBe(1);
        expect(denied.actions.filter((action) => action === "RunInstances")).toHaveLength(1);
        expect(await provisioner.hostsOf(instance.id)).toEqual([]);
      } finally {
        await denied.close();
      }
    });

    it("tries every subnet for the first instance type, then the next type, skipping a subnet out of addresses", async () => {
      const [first, second] = await defaultSubnets(env.client, 2);
      const placing = await startSpotRefusingProxy(services().moto.endpoint, {
        refusals: [
          { subnet: first!.subnetId, code: "InsufficientFreeAddressesInSubnet" },
          { instanceType: "r7g.large", code: "InsufficientInstanceCapacity" },
        ],
      });
      try {
        const instance = await env.newInstance();
        const events: Ec2ProvisionerEvent[] = [];
        const result = await env
          .ec2({
            client: ec2Client(placing.endpoint),
            instanceTypes: ["r7g.large", "m7g.large"],
            subnets: [first!.subnetId, second!.subnetId],
            onEvent: (event) => events.push(event),
          })
          .provision(instance, "jt_placements");
        expect(placing.tries.map(({ market, instanceType, subnet, clientToken, refusedWith }) => ({ market, instanceType, subnet, clientToken, refusedWith }))).toEqual([
          { market: "spot", instanceType: "r7g.large", subnet: first!.subnetId, clientToken: `${instance.id}:spot:1`, refusedWith: "InsufficientFreeAddressesInSubnet" },
          { market: "spot", instanceType: "r7g.large", subnet: second!.subnetId, clientToken: `${instance.id}:spot:2`, refusedWith: "InsufficientInstanceCapacity" },
          // m7g.large in the first subnet is not tried: that subnet has no address left
          { market: "spot", instanceType: "m7g.large", subnet: second!.subnetId, clientToken: `${instance.id}:spot:4`, refusedWith: undefined },
        ]);
        expect(result.market).toBe("spot");
        const ec2Instance = (await env.client.send(new DescribeInstancesCommand({ InstanceIds: [result.providerId!] }))).Reservations?.[0]?.Instances?.[0];
        expect(ec2Instance).toMatchObject({ InstanceType: "m7g.large", SubnetId: second!.subnetId, InstanceLifecycle: "spot" });
        expect(events.map((event) => [event.type, "code" in event ? event.code : undefined])).toEqual([
          ["launch-refused", "InsufficientFreeAddressesInSubnet"],
          ["launch-refused", "InsufficientInstanceCapacity"],
          ["launched", undefined],
        ]);
        expect(events[0]).toMatchObject({ market: "spot", instanceType: "r7g.large", subnet: first!.subnetId });
      } finally {
        await placing.close();
      }
    });

    it("tries on-demand only after every spot placement, and names every refusal when nothing is left", async () => {
      const refusing = await startSpotRefusingProxy(services().moto.endpoint, { refusals: [{ code: "InsufficientInstanceCapacity" }] });
      try {
        const instance = await env.newInstance();
        const events: Ec2ProvisionerEvent[] = [];
        const provisioner = env.ec2({ client: ec2Client(refusing.endpoint), instanceTypes: ["r7g.large", "m7g.large"], onEvent: (event) => events.push(event) });
        const error = await provisioner.provision(instance, "jt_nothing").catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(Ec2ProvisionError);
        expect((error as Ec2ProvisionError).code).toBe("InsufficientInstanceCapacity");
        expect((error as Error).message).toMatch(
          /cannot start a spot or on-demand EC2 instance .*spot r7g.large in the template's subnet: InsufficientInstanceCapacity; spot m7g.large .*; on-demand r7g.large .*; on-demand m7g.large/,
        );
        expect(refusing.tries.map(({ market, instanceType }) => `${market} ${instanceType}`)).toEqual([
          "spot r7g.large",
          "spot m7g.large",
          "on-demand r7g.large",
          "on-demand m7g.large",
        ]);
        expect(events.filter((event) => event.type === "spot-refused")).toMatchObject([{ code: "InsufficientInstanceCapacity", fallback: true }]);
        expect(await provisioner.hostsOf(instance.id)).toEqual([]);
      } finally {
        await refusing.close();
      }
    });

    it("goes straight to on-demand when the account's spot limit is reached", async () => {
      const limited = await startSpotRefusingProxy(services().moto.endpoint, { code: "MaxSpotInstanceCountExceeded" });
      try {
        const instance = await env.newInstance();
        const result = await env.ec2({ client: ec2Client(limited.endpoint), instanceTypes: ["r7g.large", "m7g.large"] }).provision(instance, "jt_limit");
        expect(result.market).toBe("on-demand");
        expect(limited.tries.map(({ market, instanceType }) => `${market} ${instanceType}`)).toEqual(["spot r7g.large", "on-demand r7g.large"]);
      } finally {
        await limited.close();
      }
    });
  });
});
