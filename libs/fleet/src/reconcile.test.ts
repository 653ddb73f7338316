import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ec2Tags } from "./ec2-tags.ts";
import { reconcileEc2 } from "./reconcile.ts";
import { ec2State, fleetTestEnv, launchTaggedHost, minutes, provisionAndRecord, terminateBehindOurBack, type FleetTestEnv } from "./testing/fleet-test-env.ts";

describe("EC2 reconciliation (moto)", () => {
  let env: FleetTestEnv;
  beforeAll(async () => {
    env = await fleetTestEnv();
  });
  afterAll(async () => env?.close());

  it("terminates orphans, marks instances whose host vanished, leaves healthy ones and other fleets alone", async () => {
    const { store, client } = env;
    const ec2 = env.ec2();
    const provision = async (to: "registering" | "ready" = "ready") => provisionAndRecord(env, ec2, await env.newInstance(), to);

    const healthy = await provision();
    const killedBehindOurBack = await provision();
    const draining = await provision();
    await store.instances.transition(draining.id, { to: "draining" });
    const vanished = await env.newInstance();
    await store.instances.transition(vanished.id, { to: "provisioning", patch: { providerId: "i-0123456789abcdef0" } });
    const gone = await provision();
    await store.instances.transition(gone.id, { to: "draining" });
    await store.instances.transition(gone.id, { to: "terminated" });

    const orphan = await launchTaggedHost(env, { [ec2Tags.instanceId]: randomUUID() });
    const untagged = await launchTaggedHost(env, {});
    const ofTerminated = await launchTaggedHost(env, { [ec2Tags.instanceId]: gone.id });
    const duplicate = await launchTaggedHost(env, { [ec2Tags.instanceId]: healthy.id });
    const otherFleet = await launchTaggedHost(env, { [ec2Tags.fleet]: "someone-else", [ec2Tags.instanceId]: randomUUID() });
    await terminateBehindOurBack(client, killedBehindOurBack.providerId!);
    await terminateBehindOurBack(client, draining.providerId!);

    // everything is younger than the grace: nothing happens yet
    env.clock.advance(minutes(1));
    expect(await reconcileEc2({ store, instances: env.instances({ ec2 }), hosts: ec2, clock: env.clock })).toEqual({ orphansTerminated: [], instancesMarked: [] });
    expect(await ec2State(client, orphan)).toBe("running");

    env.clock.advance(minutes(10));
    const report = await reconcileEc2({ store, instances: env.instances({ ec2 }), hosts: ec2, clock: env.clock });

    expect(new Map(report.orphansTerminated.map((entry) => [entry.ec2InstanceId, entry.why]))).toEqual(
      new Map([
        [orphan, expect.stringMatching(/^no catalogue instance /)],
        [untagged, "it carries no devenv:instance-id tag"],
        [ofTerminated, `instance ${gone.id} is terminated`],
        // marked terminated in the catalogue while its host kept running
        [gone.providerId, `instance ${gone.id} is terminated`],
        [duplicate, `instance ${healthy.id} runs on ${healthy.providerId}; this is a second host`],
      ]),
    );
    for (const id of [orphan, untagged, ofTerminated, duplicate, gone.providerId!]) expect(await ec2State(client, id)).toBe("terminated");
    expect(await ec2State(client, otherFleet)).toBe("running");
    expect(await ec2State(client, healthy.providerId!)).toBe("running");

    const marked = new Map(report.instancesMarked.map((entry) => [entry.instanceId, entry]));
    expect([...marked.keys()].sort()).toEqual([killedBehindOurBack.id, draining.id, vanished.id].sort());
    const killed = await store.instances.get(killedBehindOurBack.id);
    expect(killed.state).toBe("failed");
    expect(killed.stateDetail).toMatch(new RegExp(`^EC2 instance ${killedBehindOurBack.providerId} is terminated outside devenv`));
    expect((await store.instances.get(draining.id)).state).toBe("terminated");
    const lost = await store.instances.get(vanished.id);
    expect(lost.state).toBe("failed");
    expect(lost.stateDetail).toBe("EC2 instance i-0123456789abcdef0 no longer exists");
    expect((await store.instances.get(healthy.id)).state).toBe("ready");
    const [audit] = await store.audit.list({ action: "fleet.orphan-terminated", subject: `ec2:${orphan}` });
    expect(audit?.detail).toMatchObject({ why: expect.stringMatching(/^no catalogue instance/) });

    // a second pass finds nothing more to do
    env.clock.advance(minutes(10));
    expect(await reconcileEc2({ store, instances: env.instances({ ec2 }), hosts: ec2, clock: env.clock })).toEqual({ orphansTerminated: [], instancesMarked: [] });
  });
});
