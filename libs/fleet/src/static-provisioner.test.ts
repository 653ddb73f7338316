import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StaticProvisioner, staticHostMatches } from "./static-provisioner.ts";
import { fleetTestEnv, type FleetTestEnv } from "./testing/fleet-test-env.ts";

describe("static provisioner", () => {
  let env: FleetTestEnv;
  beforeAll(async () => {
    env = await fleetTestEnv();
  });
  afterAll(async () => env?.close());

  it("adopts a shared host that registers itself with its join token, and forgets it on terminate", async () => {
    const { store } = env;
    const provisioner = new StaticProvisioner({ store });
    const owner = await store.users.create({ name: "ops-team", role: "ops" });
    const instance = await store.instances.create({
      ownerId: owner.id,
      kind: "shared",
      provisioner: "static",
      providerId: "shared-db-1",
      hostAddress: "10.0.4.17",
      hostPort: 9042,
    });
    await store.instances.transition(instance.id, { to: "provisioning" });
    const { plaintext } = await store.joinTokens.issue(instance.id, { ttlMs: 24 * 3_600_000 });
    expect(await provisioner.provision(await store.instances.get(instance.id), plaintext)).toEqual({
      providerId: "shared-db-1",
      hostAddress: "10.0.4.17",
      hostPort: 9042,
    });
    await store.instances.transition(instance.id, { to: "registering" });

    // the host's agent says hello: a host naming itself otherwise is refused, the token stays usable
    const refuse = (identity: { instanceId: string }) => (target: Parameters<typeof staticHostMatches>[0]) => {
      if (!staticHostMatches(target, identity)) throw new Error(`host ${identity.instanceId} is not ${target.providerId}`);
    };
    await expect(
      store.agents.registerWithJoinToken(plaintext, { identity: { provider: "static", instanceId: "impostor" }, version: "1.0.0", verify: refuse({ instanceId: "impostor" }) }),
    ).rejects.toThrow(/host impostor is not shared-db-1/);
    const { agent, credential } = await store.agents.registerWithJoinToken(plaintext, {
      identity: { provider: "static", instanceId: "shared-db-1", hostname: "shared-db-1" },
      version: "1.0.0",
      verify: refuse({ instanceId: "shared-db-1" }),
    });
    expect(agent.instanceId).toBe(instance.id);
    expect((await store.agents.authenticate(credential))?.id).toBe(agent.id);

    // terminate stops nothing (the host is not ours) but the agent can no longer speak for the instance
    await provisioner.terminate(await store.instances.get(instance.id));
    expect(await store.agents.authenticate(credential)).toBeNull();
  });

  it("places each new static instance on the first configured host no live instance uses", async () => {
    const { store } = env;
    const hosts = [
      { name: "pick-1", address: "10.0.5.1", port: 9042, joinToken: "jt_standing_1" },
      { name: "pick-2", address: "10.0.5.2", port: 19042, joinToken: undefined },
    ];
    const provisioner = new StaticProvisioner({ hosts, store });
    const place = async () => {
      const instance = await env.newInstance({ kind: "shared", provisioner: "static" });
      const result = await provisioner.provision(instance, "jt");
      return store.instances.update(instance.id, { providerId: result.providerId ?? null, hostAddress: result.hostAddress ?? null, hostPort: result.hostPort ?? null });
    };

    const first = await place();
    expect(first).toMatchObject({ providerId: "pick-1", hostAddress: "10.0.5.1", hostPort: 9042 });
    const second = await place();
    expect(second).toMatchObject({ providerId: "pick-2", hostAddress: "10.0.5.2", hostPort: 19042 });
    // a retried provision keeps the host the instance got, and picking for it again gives the same one
    expect(await provisioner.provision(second, "jt")).toEqual({ providerId: "pick-2", hostAddress: "10.0.5.2", hostPort: 19042 });
    expect((await provisioner.pickHost(second)).name).toBe("pick-2");

    const third = await env.newInstance({ kind: "shared", provisioner: "static" });
    await expect(provisioner.provision(third, "jt")).rejects.toThrow(
      `all 2 shared hosts are in use: pick-1 (instance ${first.id}), pick-2 (instance ${second.id})`,
    );

    // a terminated instance gives its host back; a failed one still holds it
    await store.instances.transition(first.id, { to: "terminated" });
    await store.instances.transition(second.id, { to: "failed" });
    expect(await provisioner.provision(third, "jt")).toEqual({ providerId: "pick-1", hostAddress: "10.0.5.1", hostPort: 9042 });
  });

  it("fills a recorded host's address from the config, and knows each host's standing join token", async () => {
    const provisioner = new StaticProvisioner({
      hosts: [{ name: "known-1", address: "10.0.6.1", port: 9142, joinToken: "jt_standing" }],
      store: env.store,
    });
    const recorded = await env.newInstance({ kind: "shared", provisioner: "static", providerId: "known-1" });
    expect(await provisioner.provision(recorded, "jt")).toEqual({ providerId: "known-1", hostAddress: "10.0.6.1", hostPort: 9142 });
    expect(provisioner.standingJoinToken("known-1")).toBe("jt_standing");
    expect(provisioner.standingJoinToken("unknown")).toBeUndefined();
    expect(() => new StaticProvisioner({ hosts: [provisioner.hosts[0]!, provisioner.hosts[0]!], store: env.store })).toThrow(/known-1 is listed twice/);
  });

  it("has no host to give without configured hosts, and refuses instances of other provisioners", async () => {
    const provisioner = new StaticProvisioner({ store: env.store });
    const unnamed = await env.newInstance({ kind: "shared", provisioner: "static" });
    await expect(provisioner.provision(unnamed, "jt")).rejects.toThrow(/no shared hosts are configured/);
    const ec2 = await env.newInstance({ provisioner: "ec2" });
    await expect(provisioner.terminate(ec2)).rejects.toThrow(/belongs to the ec2 provisioner, not static/);
  });
});
