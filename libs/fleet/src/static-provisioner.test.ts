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

  it("needs the host's name to recognise it, and refuses instances of other provisioners", async () => {
    const provisioner = new StaticProvisioner({ store: env.store });
    const unnamed = await env.newInstance({ kind: "shared", provisioner: "static" });
    await expect(provisioner.provision(unnamed, "jt")).rejects.toThrow(/needs a providerId/);
    const ec2 = await env.newInstance({ provisioner: "ec2" });
    await expect(provisioner.terminate(ec2)).rejects.toThrow(/belongs to the ec2 provisioner, not static/);
  });
});
