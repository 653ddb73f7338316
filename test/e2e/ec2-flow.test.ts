import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type cassandra from "cassandra-driver";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startMetadataTestServer, type MetadataTestServer } from "@devenv/agent-runtime/testing";
import { freePort, startCassandraNode, stopCassandraNode } from "@devenv/cassandra-node";
import { Ec2Provisioner, readAgentUserDataTemplate } from "@devenv/fleet";
import { createLaunchTemplate, ec2Client, ec2State, userDataOf } from "@devenv/fleet/testing";
import { generateDataset } from "@devenv/fixtures";
import { S3Store } from "@devenv/snapshot";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { createBucket, s3Client } from "../harness/aws.ts";
import { exampleShrink, jobResult, startTestControlPlane, stopTestControlPlane, until, type TestControlPlane } from "../harness/control-plane.ts";
import { DeveloperView, servedOrgs, servedRowCounts, snapshotContents, snapshotOrgs } from "../harness/snapshot-contents.ts";

// The EC2 flow through the whole control plane on moto, with snapshots in S3 (moto too).
// `up` launches a spot host from the launch template with tags and cloud-init user data.
// moto runs no machine, so this test plays the host: it writes the files the user data
// would write (the agent's config and join token), serves instance metadata (IMDSv2) for
// the moto instance, and runs the real agent from that config against a Cassandra node
// of its own. The agent registers, restores the assigned snapshot from presigned S3 URLs,
// and the developer's localhost, through the control plane's tunnel, serves exactly that
// snapshot. `down` terminates the EC2 host.
const repo = resolve(import.meta.dirname, "../..");
const ec2 = ec2Client();
const s3 = s3Client(services().moto.endpoint);

let dir: string;
let source: string;
let bucket: string;
let production: cassandra.Client;
let plane: TestControlPlane;
let hostNode: { dataDir: string; contactPoint: string } | undefined;
let metadata: MetadataTestServer | undefined;
let agent: ChildProcess | undefined;
let view: DeveloperView | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-ec2-flow-"));
  production = await cassandraClient();
  source = uniqueName("ec2flow");
  bucket = await createBucket(s3, "devenv-ec2-flow");
  const template = await createLaunchTemplate(ec2);
  const port = await freePort("127.0.0.1");
  const hostDataDir = join(dir, "host", "var", "lib", "cassandra");
  // the host's Cassandra node boots while production is generated
  const [node] = await Promise.all([
    startCassandraNode({ name: "ec2-host", dataDir: hostDataDir, nativePort: await freePort("127.0.0.1"), heap: "512M" }, { deadlineMs: 240_000 }),
    generateDataset(production, { keyspace: source, orgs: 8, leadsPerOrg: 10, days: 3, eventsPerDay: 5, asOf: "2026-11-20", seed: "ec2-flow", concurrency: 32 }),
  ]);
  hostNode = { dataDir: hostDataDir, contactPoint: node.contactPoint };
  const provisioner = new Ec2Provisioner({
    client: ec2,
    launchTemplate: { id: template.id },
    controlPlaneUrl: `ws://127.0.0.1:${port}/agent`,
    userDataTemplate: await readAgentUserDataTemplate(),
    agentTarballUrl: "https://releases.example.invalid/devenv-agent.tar.gz",
    fleet: `e2e-${port}`,
  });
  plane = await startTestControlPlane({
    dataDir: join(dir, "control-plane"),
    port,
    blobs: { kind: "s3", bucket, prefix: "store", region: "us-east-1", endpoint: services().moto.endpoint },
    provisioners: { byKind: { ec2: provisioner }, forInstanceKind: () => provisioner, ec2Hosts: provisioner },
    env: { DEVENV_SHRINK_SECRET: "ec2-flow-secret-0123456789abcdef01", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" },
  });
}, 300_000);

afterAll(async () => {
  await view?.close();
  agent?.kill("SIGKILL");
  await stopTestControlPlane(plane);
  await metadata?.close();
  if (hostNode) await stopCassandraNode(hostNode.dataDir, { deadlineMs: 30_000 });
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await rm(dir, { recursive: true, force: true });
}, 120_000);

/** The files cloud-init's write_files would put on the host, under `root`. */
function writeUserDataFiles(userData: string, root: string): Map<string, string> {
  const cloudConfig = parse(userData) as { write_files: { path: string; content: string }[] };
  const written = new Map<string, string>();
  for (const file of cloudConfig.write_files) {
    const path = join(root, file.path);
    mkdirSync(resolve(path, ".."), { recursive: true });
    writeFileSync(path, file.content, { mode: 0o600 });
    written.set(file.path, path);
  }
  return written;
}

describe("the EC2 flow on moto", () => {
  it("launches a tagged spot host whose agent, configured by its user data, restores the snapshot from S3 and serves it to localhost", async () => {
    const { api, server, token } = plane;
    const { contactPoint, localDataCenter } = services().cassandra;
    const { job } = await api.snapshots.create.mutate({ shrink: exampleShrink(repo, contactPoint, localDataCenter, source, "2026-11-21T00:00:00Z") });
    const { snapshotId } = await jobResult<{ snapshotId: string }>(api, job.id);
    const snapshot = await snapshotContents(new S3Store({ client: s3, bucket, prefix: "store" }), snapshotId);

    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId, ttlHours: 4 });
    const launched = await until("the EC2 launch", async () => {
      const shown = (await api.instances.show.query({ id: instance.id })).instance;
      return shown.providerId?.startsWith("i-") ? shown : undefined;
    }, 60_000);
    const ec2Id = launched.providerId!;
    const described = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [ec2Id] }))).Reservations?.[0]?.Instances?.[0];
    expect(described?.InstanceLifecycle).toBe("spot");
    const tags = Object.fromEntries((described?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags).toMatchObject({ "devenv:managed": "true", "devenv:instance-id": instance.id, "devenv:purpose": "personal" });

    // the host boots: cloud-init writes the agent's config and join token from the user data
    const hostRoot = join(dir, "host");
    const files = writeUserDataFiles(await userDataOf(ec2, ec2Id), hostRoot);
    const config = JSON.parse(readFileSync(files.get("/etc/devenv/agent.json")!, "utf8")) as Record<string, string>;
    expect(config).toMatchObject({ controlPlaneUrl: `${server.url.replace(/^http/, "ws")}/agent`, provider: "ec2", joinTokenFile: "/etc/devenv/join-token" });
    metadata = await startMetadataTestServer({
      instanceId: ec2Id,
      instanceType: described?.InstanceType ?? "r7g.large",
      region: "us-east-1",
      zone: described?.Placement?.AvailabilityZone ?? "us-east-1a",
      lifecycle: "spot",
    });
    // the config as written; only what differs on this machine is given by flag: paths under the
    // stand-in root, this host's Cassandra port, and where its instance metadata is served
    const agentLog = openSync(join(hostRoot, "agent.log"), "a");
    agent = spawn(join(repo, "apps/agent/bin/devenv-agent"), [
      "--config", files.get("/etc/devenv/agent.json")!,
      "--join-token-file", files.get("/etc/devenv/join-token")!,
      "--state-dir", join(hostRoot, config.stateDir!),
      "--data-volume", hostNode!.dataDir,
      "--cassandra-contact-point", hostNode!.contactPoint,
      "--metadata-endpoint", metadata.url,
    ], { stdio: ["ignore", agentLog, agentLog] });
    closeSync(agentLog);

    await until("the host to register and restore the snapshot", async () => {
      const shown = await api.instances.show.query({ id: instance.id });
      if (shown.instance.state === "failed" || shown.latestAssignment?.state === "failed") throw new Error(`restore failed: ${shown.latestAssignment?.error ?? shown.instance.stateDetail}`);
      return shown.instance.state === "ready" && shown.instance.currentSnapshotId === snapshotId ? true : undefined;
    }, 180_000);
    // it identified itself from instance metadata, as the EC2 host it stands in for
    const [registered] = await server.store.agents.list({ instanceId: instance.id });
    expect(registered?.identity).toMatchObject({ provider: "ec2", instanceId: ec2Id, lifecycle: "spot", region: "us-east-1" });
    expect(metadata.requests).toContain("GET /latest/dynamic/instance-identity/document");

    // the developer's localhost, through the control plane's tunnel to the agent
    view = new DeveloperView(server, token);
    await view.listen();
    await view.query(async (client) => {
      expect(await servedRowCounts(client, "devenv", snapshot)).toEqual(snapshot.rowCounts);
      expect(await servedOrgs(client, "devenv")).toEqual(await snapshotOrgs(snapshot));
      const users = await client.execute("SELECT email FROM devenv.users");
      expect(users.rows.length).toBe(snapshot.rowCounts.users);
      expect(users.rows.every((r) => /@example\.(com|net|org)$/.test(String(r.get("email"))))).toBe(true);
    });

    await api.instances.down.mutate({ id: instance.id });
    await until("the EC2 host to be terminated", async () => ((await ec2State(ec2, ec2Id)) === "terminated" ? true : undefined), 60_000);
    await until("the instance to end", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "terminated" ? true : undefined), 60_000);
  }, 300_000);
});
