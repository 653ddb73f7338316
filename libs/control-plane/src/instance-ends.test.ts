import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { createEc2Client, Ec2Provisioner, expireStuckInstances, reapInstances, reconcileEc2, readAgentUserDataTemplate } from "@devenv/fleet";
import { createLaunchTemplate, terminateBehindOurBack, userDataOf } from "@devenv/fleet/testing";
import { TestAgent } from "@devenv/hub/testing";
import type { AuditEvent, Instance } from "@devenv/store";
import { services } from "@devenv/testing";
import { createCast, startTestServer, type Cast, type ServerFixture } from "./testing/harness.ts";

const minute = 60_000;
const hour = 60 * minute;

/**
 * Ending an instance is one method whatever the reason: each reason below must leave the
 * same marks — the agent's credential revoked, its open session closed (with its tunnels),
 * and an audit record naming the reason.
 */
describe("an instance ends the same way whatever the reason", () => {
  let fixture: ServerFixture | undefined;
  afterEach(async () => {
    await fixture?.cleanup();
    fixture = undefined;
  });

  /** A personal instance of the developer with its agent connected and ready. */
  async function readyInstance(f: ServerFixture, cast: Cast, ttlHours?: number): Promise<{ instance: Instance; agent: TestAgent; credential: string }> {
    const { instance } = await f.client(cast.developer.token).instances.up.mutate({ kind: "personal", ...(ttlHours ? { ttlHours } : {}) });
    await f.plane.instances.settled();
    const joinToken = f.provisioner.provisioned.find((p) => p.instanceId === instance.id)!.joinToken;
    const agent = await TestAgent.connect({ url: f.agentUrl, auth: { joinToken } });
    agent.startHeartbeats();
    agent.lifecycle("idle");
    await until(async () => (await f.store.instances.get(instance.id)).state === "ready");
    return { instance, agent, credential: agent.welcome!.credential! };
  }

  async function expectEnded(f: ServerFixture, instanceId: string, agent: TestAgent, credential: string, action: string, reason: string): Promise<AuditEvent> {
    const closed = await agent.closed;
    expect(closed.code).toBe(4401);
    expect(await f.store.agents.authenticate(credential)).toBeNull();
    await expect(TestAgent.connect({ url: f.agentUrl, auth: { credential } })).rejects.toThrow();
    const [record] = await f.store.audit.list({ subject: `instance:${instanceId}`, action });
    expect(record?.detail).toMatchObject({ reason });
    return record!;
  }

  it("down: the owner ends it; its tunnel closes with the session", async () => {
    fixture = await startTestServer();
    const cast = await createCast(fixture);
    const { instance, agent, credential } = await readyInstance(fixture, cast);

    const tunnel = new WebSocket(`${fixture.plane.url.replace(/^http/, "ws")}/tunnel/${instance.id}`, { headers: { authorization: `Bearer ${cast.developer.token}` } });
    const tunnelOpen = new Promise((resolve, reject) => {
      tunnel.once("open", resolve);
      tunnel.once("error", reject);
    });
    const tunnelClosed = new Promise<number>((resolve) => tunnel.once("close", (code) => resolve(code)));
    const opened = await agent.waitFor((m) => m.type === "tunnel-open");
    agent.ack((opened as { commandId: string }).commandId);
    await tunnelOpen;

    const draining = await fixture.client(cast.developer.token).instances.down.mutate({ id: instance.id });
    expect(draining.state).toBe("draining");
    await expectEnded(fixture, instance.id, agent, credential, "instance.down", "down");
    expect(await tunnelClosed).toBe(1001);
    await fixture.plane.instances.settled();
    expect((await fixture.store.instances.get(instance.id)).state).toBe("terminated");
    expect(fixture.provisioner.terminated).toContain(instance.id);
  });

  it.each(["ttl", "idle"] as const)("%s: the reaper warns, then ends it", async (reason) => {
    fixture = await startTestServer();
    const f = fixture;
    const cast = await createCast(f);
    const { instance, agent, credential } = await readyInstance(f, cast, reason === "ttl" ? 3 : 100);
    const reap = () => reapInstances({ store: f.store, instances: f.plane.instances, clock: f.clock, idleLimitMs: reason === "ttl" ? 10 * hour : 2 * hour, warn: () => {} });
    f.clock.advance(reason === "ttl" ? 3 * hour - 10 * minute : 2 * hour - 10 * minute);
    expect(await reap()).toMatchObject([{ action: "warned", reason }]);
    f.clock.advance(20 * minute);
    expect(await reap()).toMatchObject([{ action: "reaped", reason }]);
    await expectEnded(f, instance.id, agent, credential, "instance.reap", reason);
    expect((await f.store.instances.get(instance.id)).state).toBe("terminated");
  });

  it("lifecycle timeout: a restore stuck past its limit fails the instance and ends its host", async () => {
    fixture = await startTestServer();
    const f = fixture;
    const cast = await createCast(f);
    const { instance } = await f.client(cast.developer.token).instances.up.mutate({ kind: "personal" });
    await f.plane.instances.settled();
    const joinToken = f.provisioner.provisioned.find((p) => p.instanceId === instance.id)!.joinToken;
    const agent = await TestAgent.connect({ url: f.agentUrl, auth: { joinToken } });
    const credential = agent.welcome!.credential!;
    agent.lifecycle("downloading");
    await until(async () => (await f.store.instances.get(instance.id)).state === "restoring");
    f.clock.advance(2 * hour + minute);
    const outcomes = await expireStuckInstances({ store: f.store, instances: f.plane.instances, clock: f.clock });
    expect(outcomes.find((outcome) => outcome.instanceId === instance.id)).toMatchObject({ from: "restoring", to: "failed", hostTerminated: true });
    await expectEnded(f, instance.id, agent, credential, "instance.timeout", "timeout");
    expect((await f.store.instances.get(instance.id)).state).toBe("failed");
    expect(f.provisioner.terminated).toContain(instance.id);
  });

  it("spot: a repeated notice starts one replacement; once it is ready the interrupted one ends", async () => {
    fixture = await startTestServer();
    const f = fixture;
    const cast = await createCast(f);
    const { instance, agent, credential } = await readyInstance(f, cast);
    const before = new Set((await f.store.instances.list({ ownerId: cast.developer.user.id })).map((i) => i.id));
    agent.lifecycle("interrupting", { detail: "spot notice" });
    agent.lifecycle("interrupting", { detail: "spot notice again" });
    const replacement = await until(async () => (await f.store.instances.list({ ownerId: cast.developer.user.id })).find((i) => !before.has(i.id)));
    const joinToken = await until(async () => f.provisioner.provisioned.find((p) => p.instanceId === replacement.id)?.joinToken);
    const next = await TestAgent.connect({ url: f.agentUrl, auth: { joinToken } });
    next.startHeartbeats();
    next.lifecycle("idle");
    await expectEnded(f, instance.id, agent, credential, "instance.replaced", "spot");
    expect((await f.store.instances.list({ ownerId: cast.developer.user.id })).filter((i) => !before.has(i.id))).toHaveLength(1);
    expect(await f.store.audit.list({ subject: `instance:${instance.id}`, action: "instance.replace" })).toHaveLength(1);
    await next.close();
  });

  it("reconcile: an EC2 host terminated behind devenv's back fails its instance", async () => {
    const client = createEc2Client({ region: "us-east-1", endpoint: services().moto.endpoint, credentials: { accessKeyId: "test", secretAccessKey: "test" } });
    const template = await createLaunchTemplate(client);
    const ec2 = new Ec2Provisioner({
      client,
      launchTemplate: { id: template.id },
      controlPlaneUrl: "ws://127.0.0.1:1/agent",
      userDataTemplate: await readAgentUserDataTemplate(),
      agentTarballUrl: "http://127.0.0.1:1/agent.tar.gz",
      fleet: `reconcile-${Date.now()}`,
    });
    fixture = await startTestServer({ runtime: { provisioners: { byKind: { ec2 }, forInstanceKind: () => ec2, ec2Hosts: ec2 } } });
    const f = fixture;
    const cast = await createCast(f);
    const { instance } = await f.client(cast.developer.token).instances.up.mutate({ kind: "personal" });
    await f.plane.instances.settled();
    const recorded = await f.store.instances.get(instance.id);
    // the token cloud-init writes to /etc/devenv/join-token on the host
    const joinToken = /path: \/etc\/devenv\/join-token[\s\S]*?content: "([^"]+)"/.exec(await userDataOf(client, recorded.providerId!))![1]!;
    const agent = await TestAgent.connect({ url: f.agentUrl, auth: { joinToken } });
    const credential = agent.welcome!.credential!;
    agent.lifecycle("idle");
    await until(async () => (await f.store.instances.get(instance.id)).state === "ready");

    await terminateBehindOurBack(client, recorded.providerId!);
    f.clock.advance(10 * minute);
    const report = await reconcileEc2({ store: f.store, instances: f.plane.instances, hosts: ec2, clock: f.clock });
    expect(report.instancesMarked).toMatchObject([{ instanceId: instance.id, to: "failed" }]);
    await expectEnded(f, instance.id, agent, credential, "instance.host-lost", "reconcile");
    client.destroy();
  });
});

async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
