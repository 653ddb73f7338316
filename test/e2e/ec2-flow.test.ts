import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "@devenv/cassandra-node";
import { Ec2Provisioner, readAgentUserDataTemplate } from "@devenv/fleet";
import { createLaunchTemplate, ec2Client, ec2State, userDataOf } from "@devenv/fleet/testing";
import { services } from "@devenv/testing";
import { startTestControlPlane, stopTestControlPlane, until, type TestControlPlane } from "../harness/control-plane.ts";

// The EC2 flow through the whole control plane on moto: `up` launches a spot host from
// the launch template with tags and cloud-init user data; an agent on this machine stands
// in for that host, configured from the user data it would boot with; `down` terminates it.
const repo = resolve(import.meta.dirname, "../..");
const ec2 = ec2Client();

let dir: string;
let plane: TestControlPlane;
let agent: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-ec2-flow-"));
  const template = await createLaunchTemplate(ec2);
  const port = await freePort("127.0.0.1");
  plane = await startTestControlPlane({
    dataDir: join(dir, "control-plane"),
    port,
    provisioner: new Ec2Provisioner({
      client: ec2,
      launchTemplate: { id: template.id },
      controlPlaneUrl: `ws://127.0.0.1:${port}/agent`,
      userDataTemplate: await readAgentUserDataTemplate(),
      agentTarballUrl: "https://releases.example.invalid/devenv-agent.tar.gz",
      fleet: `e2e-${port}`,
    }),
  });
}, 60_000);

afterAll(async () => {
  agent?.kill("SIGKILL");
  await stopTestControlPlane(plane);
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("the EC2 flow on moto", () => {
  it("launches a tagged spot host whose user data registers its agent, and terminates it on down", async () => {
    const { api, server } = plane;
    const { instance } = await api.instances.up.mutate({ kind: "personal", ttlHours: 4 });
    const launched = await until("the EC2 launch", async () => {
      const shown = (await api.instances.show.query({ id: instance.id })).instance;
      return shown.providerId?.startsWith("i-") ? shown : undefined;
    }, 60_000);
    const ec2Id = launched.providerId!;
    const described = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [ec2Id] }))).Reservations?.[0]?.Instances?.[0];
    expect(described?.InstanceLifecycle).toBe("spot");
    const tags = Object.fromEntries((described?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ "devenv:managed": "true", "devenv:instance-id": instance.id, "devenv:purpose": "personal" });

    // what the host would boot with
    const userData = await userDataOf(ec2, ec2Id);
    const joinToken = /content: "([^"]+)"/.exec(userData)?.[1];
    const controlPlaneUrl = /"controlPlaneUrl": "([^"]+)"/.exec(userData)?.[1];
    expect(joinToken).toBeDefined();
    expect(controlPlaneUrl).toBe(`${server.url.replace(/^http/, "ws")}/agent`);
    agent = spawn(join(repo, "apps/agent/bin/devenv-agent"), [
      "--control-plane-url", controlPlaneUrl!,
      "--join-token", joinToken!,
      "--state-dir", join(dir, "agent"),
      "--cassandra-contact-point", services().cassandra.contactPoint,
      "--data-volume", dir,
      "--provider", "local",
      "--instance-id", ec2Id,
    ], { stdio: "ignore" });
    await until("the host to register and be ready", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "ready" ? true : undefined), 60_000);

    await api.instances.down.mutate({ id: instance.id });
    await until("the EC2 host to be terminated", async () => ((await ec2State(ec2, ec2Id)) === "terminated" ? true : undefined), 60_000);
    await until("the instance to end", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "terminated" ? true : undefined), 60_000);
  }, 240_000);
});
