import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetMaintenanceLoop, runFleetMaintenance, type FleetMaintenanceReport } from "./maintenance.ts";
import { createEc2Client } from "./ec2-provisioner.ts";
import { ec2State, fleetTestEnv, minutes, provisionAndRecord, type FleetTestEnv } from "./testing/fleet-test-env.ts";

describe("fleet maintenance", () => {
  let env: FleetTestEnv;
  beforeAll(async () => {
    env = await fleetTestEnv();
  });
  afterAll(async () => env?.close());

  it("runs every pass, and a failing pass does not stop the others", async () => {
    const ec2 = env.ec2();
    const stuck = await provisionAndRecord(env, ec2, await env.newInstance());
    env.clock.advance(minutes(20));
    const unreachable = env.ec2({ client: createEc2Client({ region: "us-east-1", endpoint: "http://127.0.0.1:1", credentials: { accessKeyId: "x", secretAccessKey: "x" } }) });
    const report = await runFleetMaintenance({
      store: env.store,
      instances: env.instances({ ec2 }),
      clock: env.clock,
      ec2Hosts: unreachable,
      reaper: { warn: () => {} },
    });
    expect(report.timeouts.map((outcome) => [outcome.instanceId, outcome.to, outcome.hostTerminated])).toEqual([[stuck.id, "failed", true]]);
    expect(await ec2State(env.client, stuck.providerId!)).toBe("terminated");
    expect(report.errors).toEqual([{ pass: "reconcile", message: expect.stringMatching(/cannot list devenv's EC2 instances/) }]);
  });

  it("loops until stopped", async () => {
    const reports: FleetMaintenanceReport[] = [];
    const loop = new FleetMaintenanceLoop({
      store: env.store,
      instances: env.instances({ ec2: env.ec2() }),
      clock: env.clock,
      ec2Hosts: env.ec2(),
      reaper: { warn: () => {} },
      intervalMs: 10,
      onReport: (report) => reports.push(report),
    });
    loop.start();
    const deadline = Date.now() + 20_000;
    while (reports.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await loop.stop();
    const seen = reports.length;
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(reports.every((report) => report.errors.length === 0)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reports.length).toBe(seen);
  });
});
