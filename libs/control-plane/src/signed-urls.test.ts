import { createHash } from "node:crypto";
import { PutObjectCommand, CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AssignMessage, SnapshotManifest } from "@devenv/protocol";
import { snapshotFormatVersion, snapshotKeys } from "@devenv/protocol";
import { systemClock } from "@devenv/core";
import { HttpSnapshotStore, LocalDirStore } from "@devenv/snapshot";
import { services, uniqueName } from "@devenv/testing";
import { createCast, instanceOf, readySnapshotIn, startTestServer, type ServerFixture } from "./testing/harness.ts";

/** A snapshot's objects: a manifest listing one chunk, the chunk, and one chunk of some other snapshot. */
function snapshotObjects(snapshotId: string) {
  const chunk = Buffer.from(`chunk of ${snapshotId}\n`);
  const foreign = Buffer.from(`chunk of another snapshot\n`);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const manifest: SnapshotManifest = {
    formatVersion: snapshotFormatVersion,
    id: snapshotId,
    createdAt: "2026-11-25T09:00:00.000Z",
    source: { description: "test", keyspace: "shop" },
    schema: { types: [], statements: ["CREATE TABLE t (id int PRIMARY KEY)"] },
    tables: [
      {
        name: "t",
        columns: [{ name: "id", type: "int", kind: "partition_key", position: 0, clusteringOrder: "none" }],
        counter: false,
        chunks: [{ sha256: sha(chunk), rows: 1, bytes: chunk.length, rawBytes: chunk.length, tokenRange: { start: "-9223372036854775808", end: "9223372036854775807" } }],
        rows: 1,
        bytes: chunk.length,
      },
    ],
    totals: { tables: 1, chunks: 1, rows: 1, bytes: chunk.length },
  };
  return { manifest: Buffer.from(JSON.stringify(manifest)), chunk, chunkSha: sha(chunk), foreign, foreignSha: sha(foreign) };
}

async function assignAndCapture(fixture: ServerFixture, snapshotId: string) {
  const cast = await createCast(fixture);
  const instance = await instanceOf(fixture.store, cast.developer.user);
  const { agent } = await fixture.store.agents.register(instance.id, { identity: { hostname: "h" }, version: "1.0.0" });
  const result = await fixture.client(cast.developer.token).instances.assign.mutate({ id: instance.id, snapshotId });
  expect(result).toMatchObject({ delivered: true, assignment: { state: "sent" } });
  const [sent] = await fixture.store.commands.pending(agent.id);
  expect(sent).toMatchObject({ agentId: agent.id, idempotencyKey: result.assignment.id, payload: { type: "assign", assignmentId: result.assignment.id, targetKeyspace: "devenv" } });
  return (sent!.payload as unknown as AssignMessage).snapshot;
}

describe("signed blob URLs over the local blob dir", () => {
  let fixture: ServerFixture;
  const snapshotId = uniqueName("snap");
  const objects = snapshotObjects(snapshotId);

  beforeAll(async () => {
    fixture = await startTestServer();
    const blobs = new LocalDirStore(`${fixture.dataDir}/blobs`);
    await blobs.put(snapshotKeys.manifest(snapshotId), objects.manifest);
    await blobs.put(snapshotKeys.chunk(objects.chunkSha), objects.chunk);
    await blobs.put(snapshotKeys.chunk(objects.foreignSha), objects.foreign);
    await readySnapshotIn(fixture.store, snapshotId);
  });
  afterAll(async () => fixture?.cleanup());

  it("a valid URL serves the manifest and the snapshot's chunks; the agent's HTTP store reads them", async () => {
    const location = await assignAndCapture(fixture, snapshotId);
    expect(location.manifestUrl.startsWith(`${fixture.plane.url}/blobs/snapshots/${snapshotId}/manifest.json?`)).toBe(true);
    const manifest = await fetch(location.manifestUrl);
    expect(manifest.status).toBe(200);
    expect(Buffer.from(await manifest.arrayBuffer())).toEqual(objects.manifest);
    const chunkUrl = location.chunkUrlTemplate.replace("{sha256}", objects.chunkSha);
    const head = await fetch(chunkUrl, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(objects.chunk.length));

    const store = new HttpSnapshotStore(location, { attempts: 1 });
    const parts: Buffer[] = [];
    for await (const part of await store.get(snapshotKeys.chunk(objects.chunkSha))) parts.push(part as Buffer);
    expect(Buffer.concat(parts)).toEqual(objects.chunk);
  });

  it("tampered, foreign and expired URLs get 403", async () => {
    const location = await assignAndCapture(fixture, snapshotId);
    const chunkUrl = new URL(location.chunkUrlTemplate.replace("{sha256}", objects.chunkSha));

    const tampered = new URL(chunkUrl);
    const sig = tampered.searchParams.get("sig")!;
    tampered.searchParams.set("sig", `${sig[0] === "a" ? "b" : "a"}${sig.slice(1)}`);
    expect((await fetch(tampered)).status).toBe(403);

    const longer = new URL(chunkUrl);
    longer.searchParams.set("exp", String(Number(longer.searchParams.get("exp")) + 3600));
    expect((await fetch(longer)).status).toBe(403);

    const otherSnapshot = new URL(chunkUrl);
    otherSnapshot.searchParams.set("snapshot", "someone-elses");
    expect((await fetch(otherSnapshot)).status).toBe(403);

    const unsigned = new URL(chunkUrl);
    unsigned.search = "";
    expect((await fetch(unsigned)).status).toBe(403);

    // a signature for this snapshot does not open chunks it does not list
    expect((await fetch(location.chunkUrlTemplate.replace("{sha256}", objects.foreignSha))).status).toBe(403);

    fixture.clock.advance(6 * 3600 * 1000 + 1000);
    const expired = await fetch(chunkUrl);
    expect(expired.status).toBe(403);
    expect(await expired.text()).toMatch(/expired/);
  });
});

describe("signed blob URLs over S3 (moto)", () => {
  let fixture: ServerFixture;
  const snapshotId = uniqueName("snap");
  const objects = snapshotObjects(snapshotId);
  const bucket = uniqueName("blobs").replace(/_/g, "-");
  const clientConfig = () => ({
    endpoint: services().moto.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });

  beforeAll(async () => {
    const s3 = new S3Client(clientConfig());
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const put = (key: string, body: Buffer) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `store/${key}`, Body: body }));
    await put(snapshotKeys.manifest(snapshotId), objects.manifest);
    await put(snapshotKeys.chunk(objects.chunkSha), objects.chunk);
    s3.destroy();
    // presigned S3 URLs are checked against real time, so this server signs with the real clock
    fixture = await startTestServer({
      settings: { blobs: { kind: "s3", bucket, prefix: "store", region: "us-east-1", endpoint: services().moto.endpoint } },
      runtime: { clock: systemClock, env: { AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test" } },
    });
    await readySnapshotIn(fixture.store, snapshotId);
  });
  afterAll(async () => fixture?.cleanup());

  it("the manifest URL is presigned by S3; a chunk URL redirects to a presigned S3 URL", async () => {
    const location = await assignAndCapture(fixture, snapshotId);
    expect(location.manifestUrl.startsWith(`${services().moto.endpoint}/${bucket}/store/snapshots/${snapshotId}/manifest.json?`)).toBe(true);
    expect(location.manifestUrl).toMatch(/X-Amz-Signature=/);
    const manifest = await fetch(location.manifestUrl);
    expect(manifest.status).toBe(200);
    expect(Buffer.from(await manifest.arrayBuffer())).toEqual(objects.manifest);

    const chunkUrl = location.chunkUrlTemplate.replace("{sha256}", objects.chunkSha);
    const redirect = await fetch(chunkUrl, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toMatch(new RegExp(`^${services().moto.endpoint}/${bucket}/store/chunks/${objects.chunkSha}\\?.*X-Amz-Signature=`));

    const store = new HttpSnapshotStore(location, { attempts: 1 });
    expect(await store.head(snapshotKeys.chunk(objects.chunkSha))).toEqual({ size: objects.chunk.length });
    const parts: Buffer[] = [];
    for await (const part of await store.get(snapshotKeys.chunk(objects.chunkSha))) parts.push(part as Buffer);
    expect(Buffer.concat(parts)).toEqual(objects.chunk);
  });

  it("a tampered chunk URL gets 403 before any redirect", async () => {
    const location = await assignAndCapture(fixture, snapshotId);
    const url = new URL(location.chunkUrlTemplate.replace("{sha256}", objects.chunkSha));
    url.searchParams.set("snapshot", "another");
    expect((await fetch(url, { redirect: "manual" })).status).toBe(403);
  });
});
