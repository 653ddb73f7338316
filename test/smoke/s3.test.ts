import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBucket, s3Client } from "../harness/aws.ts";
import { services } from "../harness/context.ts";

const MiB = 1024 * 1024;
const partSize = 5 * MiB; // S3's minimum for every part but the last
const objectSize = 11 * MiB + 123; // three parts, the last one short

describe("moto S3", () => {
  let s3: S3Client;
  let bucket: string;

  beforeAll(async () => {
    s3 = s3Client(services().moto.endpoint);
    bucket = await createBucket(s3, "smoke-s3");
  });

  afterAll(async () => {
    s3.destroy();
  });

  it("stores a multipart upload and returns the same bytes", async () => {
    const key = "snapshots/smoke/chunk-0001.bin";
    const chunks = randomChunks(objectSize, MiB);
    const sent = createHash("sha256");
    const body = Readable.from(
      (function* () {
        for (const chunk of chunks) {
          sent.update(chunk);
          yield chunk;
        }
      })(),
    );

    const partsSeen = new Set<number>();
    const upload = new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body }, partSize, queueSize: 2 });
    upload.on("httpUploadProgress", (progress) => {
      if (progress.part !== undefined) partsSeen.add(progress.part);
    });
    await upload.done();
    expect(partsSeen.size).toBeGreaterThanOrEqual(2);

    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(objectSize);
    // S3 (and moto) give a multipart object the ETag "<md5 of part md5s>-<part count>"
    expect(head.ETag).toMatch(new RegExp(`-${Math.ceil(objectSize / partSize)}"$`));

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!got.Body) throw new Error("GetObject returned no body");
    const received = createHash("sha256");
    let receivedBytes = 0;
    for await (const chunk of got.Body.transformToWebStream()) {
      received.update(chunk);
      receivedBytes += chunk.byteLength;
    }
    expect(receivedBytes).toBe(objectSize);
    expect(received.digest("hex")).toBe(sent.digest("hex"));

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "snapshots/smoke/" }));
    expect(listed.Contents?.map((object) => ({ key: object.Key, size: object.Size }))).toEqual([
      { key, size: objectSize },
    ]);
    const otherPrefix = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "snapshots/other/" }));
    expect(otherPrefix.KeyCount).toBe(0);

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  });
});

/** `total` random bytes in chunks of `size`, generated lazily so memory stays bounded. */
function* randomChunks(total: number, size: number): Generator<Buffer> {
  for (let left = total; left > 0; left -= size) yield randomBytes(Math.min(size, left));
}
