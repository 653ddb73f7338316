import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withAudit } from "./audited-provisioner.ts";
import { instanceHours } from "./cost.ts";
import { StaticProvisioner } from "./static-provisioner.ts";
import { fleetTestEnv, minutes, type FleetTestEnv } from "./testing/fleet-test-env.ts";

const hours = (n: number) => minutes(60 * n);

describe("cost view", () => {
  let env: FleetTestEnv;
  beforeAll(async () => {
    env = await fleetTestEnv();
  });
  afterAll(async () => env?.close());

  it("sums instance-hours inside the period by owner and market", async () => {
    const { store, clock } = env;
    const start = clock.now();
    const spot = withAudit(env.ec2(), store.audit);
    const onDemand = withAudit(env.ec2({ market: "on-demand" }), store.audit);
    const shared = withAudit(new StaticProvisioner({ store }), store.audit);
    const launch = async (provisioner: typeof spot, input: Parameters<FleetTestEnv["newInstance"]>[0]) => {
      const instance = await env.newInstance(input);
      const result = await provisioner.provision(instance, "jt_cost");
      return store.instances.update(instance.id, { providerId: result.providerId ?? null });
    };

    const danaSpot = await launch(spot, { ownerName: "dana" }); // +0 h, terminated at +3 h
    clock.advance(hours(1));
    await launch(onDemand, { ownerName: "dana" }); // +1 h, still running
    clock.advance(hours(1));
    await launch(shared, { ownerName: "omar", kind: "shared", provisioner: "static", providerId: "rack-3" }); // +2 h
    clock.advance(hours(1));
    await spot.terminate(danaSpot);
    await store.instances.transition(danaSpot.id, { to: "draining" });
    await store.instances.transition(danaSpot.id, { to: "terminated" });
    clock.advance(hours(1));
    await env.newInstance({ ownerName: "omar" }); // +4 h, never got a host
    clock.advance(minutes(40));
    await launch(spot, { ownerName: "omar" }); // +4:40, after the period

    clock.advance(minutes(20)); // now +5 h
    const period = { from: new Date(start + minutes(30)), to: new Date(start + hours(4) + minutes(30)) };
    const expected = [
      { ownerName: "dana", market: "on-demand", instances: 1, hours: 3.5 },
      { ownerName: "dana", market: "spot", instances: 1, hours: 2.5 },
      { ownerName: "omar", market: "self-hosted", instances: 1, hours: 2.5 },
    ];
    // from EC2's tags and launch times while EC2 still lists the hosts...
    const live = await instanceHours({ store, clock, hosts: env.ec2(), ...period });
    expect(live.map(({ ownerName, market, instances, hours }) => ({ ownerName, market, instances, hours }))).toEqual(expected);
    expect(live[0]?.ownerId).toBe(danaSpot.ownerId);
    // ...and from the audit log once it has forgotten them
    const recorded = await instanceHours({ store, clock, ...period });
    expect(recorded.map(({ ownerName, market, instances, hours }) => ({ ownerName, market, instances, hours }))).toEqual(expected);

    // a period still running ends now
    const sinceStart = await instanceHours({ store, clock, from: new Date(start) });
    expect(sinceStart.find((row) => row.ownerName === "omar" && row.market === "spot")).toMatchObject({ instances: 1, hours: 0.33 });
    await expect(instanceHours({ store, clock, from: new Date(start + hours(6)) })).rejects.toThrow(/must start before it ends/);
  });
});
