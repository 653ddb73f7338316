import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expireStuckInstances } from "./lifecycle-timeouts.ts";
import { StaticProvisioner } from "./static-provisioner.ts";
import { ec2State, fleetTestEnv, minutes, provisionAndRecord, type FleetTestEnv } from "./testing/fleet-test-env.ts";

describe("lifecycle timeouts", () => {
  let env: FleetTestEnv;
  beforeAll(async () => {
    env = await fleetTestEnv();
  });
  afterAll(async () => env?.close());

  it("fails an instance whose agent never registered and terminates its EC2 host", async () => {
    const ec2 = env.ec2();
    const provisioners = { ec2, static: new StaticProvisioner({ store: env.store }) };
    const stuck = await provisionAndRecord(env, ec2, await env.newInstance());
    const healthy = await provisionAndRecord(env, ec2, await env.newInstance(), "ready");
    expect(await ec2State(env.client, stuck.providerId!)).toBe("running");

    env.clock.advance(minutes(14));
    expect(await expireStuckInstances({ store: env.store, instances: env.instances(provisioners), clock: env.clock })).toEqual([]);

    env.clock.advance(minutes(2));
    const outcomes = await expireStuckInstances({ store: env.store, instances: env.instances(provisioners), clock: env.clock });
    expect(outcomes).toEqual([{ instanceId: stuck.id, from: "registering", to: "failed", hostTerminated: true }]);
    const failed = await env.store.instances.get(stuck.id);
    expect(failed.state).toBe("failed");
    expect(failed.stateDetail).toMatch(/stuck in registering for more than 15 min .*the host's agent never registered/);
    expect(await ec2State(env.client, stuck.providerId!)).toBe("terminated");
    const [audit] = await env.store.audit.list({ subject: `instance:${stuck.id}`, action: "instance.timeout" });
    expect(audit?.detail).toMatchObject({ reason: "timeout", from: "registering", to: "failed" });

    // ready has no limit
    expect((await env.store.instances.get(healthy.id)).state).toBe("ready");
    expect(await ec2State(env.client, healthy.providerId!)).toBe("running");

    // after its grace the failed instance is retired, keeping its reason
    env.clock.advance(minutes(61));
    const retired = await expireStuckInstances({ store: env.store, instances: env.instances(provisioners), clock: env.clock });
    expect(retired).toEqual([{ instanceId: stuck.id, from: "failed", to: "terminated", hostTerminated: true }]);
    const terminated = await env.store.instances.get(stuck.id);
    expect(terminated.state).toBe("terminated");
    expect(terminated.stateDetail).toBe(failed.stateDetail);
  });

  it("applies the configured limits per state, also to a launch that never reached EC2", async () => {
    const ec2 = env.ec2();
    const requested = await env.newInstance();
    const provisioning = await env.newInstance();
    await env.store.instances.transition(provisioning.id, { to: "provisioning" });
    env.clock.advance(minutes(3));
    const outcomes = await expireStuckInstances({
      store: env.store,
      instances: env.instances({ ec2 }),
      clock: env.clock,
      limits: { requested: minutes(2), provisioning: minutes(10) },
    });
    expect(outcomes.map((outcome) => [outcome.instanceId, outcome.from, outcome.hostTerminated])).toEqual([[requested.id, "requested", true]]);
    expect((await env.store.instances.get(provisioning.id)).state).toBe("provisioning");
  });

  it("keeps a failed instance failed while its host cannot be terminated, and says why", async () => {
    const instance = await env.newInstance({ provisioner: "local" });
    await env.store.instances.transition(instance.id, { to: "failed", detail: "restore failed" });
    env.clock.advance(minutes(61));
    const outcomes = await expireStuckInstances({ store: env.store, instances: env.instances({ ec2: env.ec2() }), clock: env.clock });
    const outcome = outcomes.find((candidate) => candidate.instanceId === instance.id);
    expect(outcome).toMatchObject({ instanceId: instance.id, to: "terminated", hostTerminated: false });
    expect(outcome?.error).toMatch(/uses the local provisioner, which this control plane does not run \(configured: ec2\)/);
    expect((await env.store.instances.get(instance.id)).state).toBe("failed");
  });
});
