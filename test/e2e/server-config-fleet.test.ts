import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DescribeInstancesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient } from "@devenv/api";
import { freePort } from "@devenv/cassandra-node";
import { createLaunchTemplate, defaultSubnets, ec2Client, startSpotRefusingProxy, userDataOf, type SpotRefusingProxy } from "@devenv/fleet/testing";
import { TestAgent } from "@devenv/hub/testing";
import type { InstanceView } from "@devenv/protocol";
import { services, uniqueName } from "@devenv/testing";
import { until } from "../harness/control-plane.ts";

/**
 * The shipped `devenv server --config FILE` with an ec2 provisioner for personal instances
 * (on moto, behind a proxy that refuses spot capacity at first) and a static shared host,
 * driven through the CLI as a team would.
 */
const repo = resolve(import.meta.dirname, "../..");
const devenv = join(repo, "apps/cli/bin/devenv");
const standingToken = "jt_standing_shared_1_0123456789abcdef";
const awsKeys = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" };

let dir: string;
let ec2: EC2Client;
let proxy: SpotRefusingProxy;
let server: ChildProcess | undefined;
let url: string;
let adminToken: string;
let subnets: string[];
const instanceTypes = ["r6i.large", "r5.large"];
const agents: TestAgent[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(home: string, args: string[]): Promise<Run> {
  const env = { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, "config"), DEVENV_STATE_DIR: join(home, "state") };
  return new Promise((done) => {
    execFile(devenv, args, { encoding: "utf8", env }, (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
}

async function person(name: string, role: "developer" | "ops"): Promise<string> {
  const created = await createApiClient({ url, token: adminToken }).auth.users.create.mutate({ name: uniqueName(name), role });
  const home = await mkdtemp(join(dir, `${name}-`));
  const login = await cli(home, ["login", "--server", url, "--token", created.token.plaintext]);
  expect(login.code, login.stderr).toBe(0);
  return home;
}

async function hostOf(ec2InstanceId: string) {
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [ec2InstanceId] }));
  const host = described.Reservations?.[0]?.Instances?.[0];
  return { state: host?.State?.Name, tags: Object.fromEntries((host?.Tags ?? []).map((tag) => [tag.Key, tag.Value])) };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-server-config-"));
  ec2 = ec2Client();
  const template = await createLaunchTemplate(ec2);
  subnets = (await defaultSubnets(ec2, 2)).map((subnet) => subnet.subnetId);
  // every spot try of the first instance (2 types x 2 subnets) is refused; later ones pass
  proxy = await startSpotRefusingProxy(services().moto.endpoint, { refusals: [{ market: "spot", code: "InsufficientInstanceCapacity", status: 400, times: 4 }] });
  const port = await freePort("127.0.0.1");
  const configFile = join(dir, "server.yaml");
  await writeFile(
    configFile,
    `dataDir: ${join(dir, "control-plane")}
port: ${port}
provisioners:
  personal:
    kind: ec2
    region: us-east-1
    endpoint: ${proxy.endpoint}
    launchTemplate: ${template.name}
    instanceTypes: [${instanceTypes.join(", ")}]
    market: spot
    fallback: on-demand
    subnets: [${subnets.join(", ")}]
    tags: { team: platform }
    fleet: ${uniqueName("e2e")}
  shared:
    kind: static
    hosts:
      - { name: shared-1, address: 127.0.0.1, joinToken: { env: DEVENV_SHARED_1_TOKEN } }
`,
  );
  server = spawn(devenv, ["server", "--config", configFile], {
    env: { PATH: process.env.PATH, HOME: dir, DEVENV_SHARED_1_TOKEN: standingToken, DEVENV_SHRINK_SECRET: "server-config-secret-0123456789abcdef", ...awsKeys },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let printed = "";
  server.stdout!.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  server.stderr!.resume();
  adminToken = await until("the admin token", async () => /Admin token \(shown once, keep it safe\): (\S+)/.exec(printed)?.[1], 60_000, 100);
  url = `http://127.0.0.1:${port}`;
  await until("the server to serve", async () => ((await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? true : undefined), 30_000, 100);
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.close().catch(() => {})));
  if (server && server.exitCode === null) {
    const exited = new Promise((resolveExit) => server!.once("exit", resolveExit));
    server.kill("SIGTERM");
    await exited;
  }
  await proxy?.close();
  ec2?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe("devenv server --config with an ec2 and a static provisioner", () => {
  it("devenv up launches tagged EC2 hosts (on-demand when spot is refused, then spot), up --shared uses the static host, down ends the EC2 host and its agent", async () => {
    const ada = await person("ada", "developer");
    const olga = await person("olga", "ops");

    // spot refused for every type and subnet: the same list on-demand
    const first = await cli(ada, ["up", "--no-wait", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const onDemand = (JSON.parse(first.stdout) as { instance: InstanceView }).instance;
    expect(onDemand.provisioner).toBe("ec2");
    const onDemandHostId = await until("the on-demand host", async () => (await adminInstance(onDemand.id)).providerId ?? undefined, 30_000);
    expect(proxy.tries.slice(0, 5).map((t) => [t.market, t.instanceType, t.subnet, t.refusedWith ?? "launched"])).toEqual([
      ["spot", instanceTypes[0], subnets[0], "InsufficientInstanceCapacity"],
      ["spot", instanceTypes[0], subnets[1], "InsufficientInstanceCapacity"],
      ["spot", instanceTypes[1], subnets[0], "InsufficientInstanceCapacity"],
      ["spot", instanceTypes[1], subnets[1], "InsufficientInstanceCapacity"],
      ["on-demand", instanceTypes[0], subnets[0], "launched"],
    ]);
    expect((await hostOf(onDemandHostId)).tags).toMatchObject({ "devenv:market": "on-demand", "devenv:instance-id": onDemand.id, team: "platform" });

    // spot capacity is back: a spot host, tagged for its instance and owner
    const second = await cli(ada, ["up", "--no-wait", "--json"]);
    expect(second.code, second.stderr).toBe(0);
    const spot = (JSON.parse(second.stdout) as { instance: InstanceView }).instance;
    const spotHostId = await until("the spot host", async () => (await adminInstance(spot.id)).providerId ?? undefined, 30_000);
    expect((await hostOf(spotHostId)).tags).toMatchObject({ "devenv:market": "spot", "devenv:instance-id": spot.id, "devenv:owner": spot.ownerId, "devenv:purpose": "personal", team: "platform" });

    // the host's agent registers with the token cloud-init carries
    const joinToken = /path: \/etc\/devenv\/join-token[\s\S]*?content: "([^"]+)"/.exec(await userDataOf(ec2, spotHostId))![1]!;
    const hostAgent = await TestAgent.connect({ url: url.replace(/^http/, "ws") + "/agent", auth: { joinToken } });
    agents.push(hostAgent);
    const credential = hostAgent.welcome!.credential!;
    hostAgent.startHeartbeats();
    hostAgent.lifecycle("idle");
    await until("the spot instance to be ready", async () => ((await adminInstance(spot.id)).state === "ready" ? true : undefined), 30_000);

    // a shared instance goes on the static host, which registers with its standing token
    const shared = await cli(olga, ["up", "--shared", "--no-wait", "--json"]);
    expect(shared.code, shared.stderr).toBe(0);
    const sharedInstance = (JSON.parse(shared.stdout) as { instance: InstanceView; joinToken?: string });
    expect(sharedInstance.instance).toMatchObject({ provisioner: "static", providerId: "shared-1", hostAddress: "127.0.0.1" });
    expect(sharedInstance.joinToken).toBeUndefined();
    const sharedAgent = await TestAgent.connect({ url: url.replace(/^http/, "ws") + "/agent", auth: { joinToken: standingToken }, identity: { instanceId: "shared-1" } });
    agents.push(sharedAgent);
    sharedAgent.startHeartbeats();
    sharedAgent.lifecycle("idle");
    await until("the shared instance to be ready", async () => ((await adminInstance(sharedInstance.instance.id)).state === "ready" ? true : undefined), 30_000);
    const busy = await cli(olga, ["up", "--shared", "--no-wait", "--json"]);
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/all 1 shared hosts are in use: shared-1/);

    // down: the host is terminated, the agent's session closed and its credential dead
    const down = await cli(ada, ["down", spot.id]);
    expect(down.code, down.stderr).toBe(0);
    expect((await hostAgent.closed).code).toBe(4401);
    await until("the spot host to be terminated", async () => (["shutting-down", "terminated"].includes((await hostOf(spotHostId)).state ?? "") ? true : undefined), 30_000);
    await expect(TestAgent.connect({ url: url.replace(/^http/, "ws") + "/agent", auth: { credential } })).rejects.toThrow();
    await until("the instance to be terminated", async () => ((await adminInstance(spot.id)).state === "terminated" ? true : undefined), 30_000);
  }, 240_000);
});

async function adminInstance(id: string): Promise<InstanceView> {
  return (await createApiClient({ url, token: adminToken }).instances.show.query({ id })).instance;
}
