import type cassandra from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateDataset } from "@devenv/fixtures";
import { S3Store, restoreSnapshot } from "@devenv/snapshot";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { createBucket, s3Client } from "../harness/aws.ts";
import { exampleShrink, jobResult, startTestControlPlane, stopTestControlPlane, type TestControlPlane } from "../harness/control-plane.ts";
import { createDatabase, dropDatabase } from "../harness/postgres.ts";

// Two control-plane replicas, as on two hosts: one PostgreSQL store, one S3
// catalogue (moto), nothing else shared. A shrink job's token-range tasks are
// leased by both, and the snapshot they make together restores like any other.
const repo = resolve(import.meta.dirname, "../..");
const secret = "replicas-test-secret-0123456789abcd";

let dirs: string[] = [];
let databaseUrl: string;
let s3: S3Client;
let bucket: string;
let source: string;
let restored: string;
let production: cassandra.Client;
const planes: TestControlPlane[] = [];

beforeAll(async () => {
  databaseUrl = await createDatabase(services().postgres.url, "replicas");
  s3 = s3Client(services().moto.endpoint);
  bucket = await createBucket(s3, "replicas");
  production = await cassandraClient();
  source = uniqueName("replicas");
  restored = uniqueName("replicas_dev");
  await generateDataset(production, { keyspace: source, orgs: 8, leadsPerOrg: 40, days: 4, eventsPerDay: 30, asOf: "2026-11-24", seed: "replicas", concurrency: 32 });
}, 120_000);

afterAll(async () => {
  for (const plane of planes) await stopTestControlPlane(plane);
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.execute(`DROP KEYSPACE IF EXISTS ${restored}`);
  await production?.shutdown();
  await dropDatabase(services().postgres.url, databaseUrl).catch(() => {});
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe("a shrink spread over two control-plane replicas", () => {
  it("runs its tasks on both replicas, through one PostgreSQL queue, into one S3 catalogue", async () => {
    dirs = [await mkdtemp(join(tmpdir(), "devenv-replica-a-")), await mkdtemp(join(tmpdir(), "devenv-replica-b-"))];
    const blobs = { kind: "s3" as const, bucket, prefix: "catalogue", region: "us-east-1", endpoint: services().moto.endpoint };
    // one task slot each, and idle runners that look for work every 50 ms: while one replica
    // scans a task (hundreds of ms), the other takes the next instead of one doing all four
    const start = (dataDir: string, token?: string) =>
      startTestControlPlane({ dataDir, port: 0, databaseUrl, blobs, taskConcurrency: 1, jobPollMs: 50, env: { DEVENV_SHRINK_SECRET: secret, AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" } }, token);
    planes.push(await start(dirs[0]!));
    planes.push(await start(dirs[1]!, planes[0]!.token));
    const [a, b] = planes as [TestControlPlane, TestControlPlane];
    const { contactPoint, localDataCenter } = services().cassandra;

    const { job } = await a.api.snapshots.create.mutate({ shrink: { ...exampleShrink(repo, contactPoint, localDataCenter, source), tasks: 4 } });
    const result = await jobResult<{ snapshotId: string; rows: number; tasks: number }>(b.api, job.id);
    expect(result.tasks).toBe(4);

    const runners = new Set([a.server.jobs.owner, b.server.jobs.owner]);
    expect(runners.size).toBe(2);
    const tasks = await a.api.jobs.list.query({ parentId: job.id });
    expect(tasks.map((t) => t.state)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    const ranOn = new Set<string>();
    for (const task of tasks) {
      const { log } = await a.api.jobs.show.query({ id: task.id });
      const owner = log.map((l) => l.line).join("\n").match(/ on (\S+)$/m)?.[1];
      expect(runners.has(owner ?? ""), `task ${task.id} ran on ${owner}`).toBe(true);
      ranOn.add(owner!);
    }
    expect(ranOn.size, "both replicas ran tasks").toBe(2);

    // nothing of the work area is left in the bucket; the snapshot restores
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "catalogue/work/" }));
    expect(listed.KeyCount ?? 0).toBe(0);
    const store = new S3Store({ client: s3, bucket, prefix: "catalogue" });
    const work = await mkdtemp(join(tmpdir(), "devenv-replica-restore-"));
    dirs.push(work);
    const restore = await restoreSnapshot({ store, snapshotId: result.snapshotId, client: production, keyspace: restored, workDir: work });
    expect(restore.rows).toBe(result.rows);
  });
});
