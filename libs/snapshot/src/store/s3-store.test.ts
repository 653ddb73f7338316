import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { services } from "@devenv/testing";
import { describeBlobStoreContract, pseudoRandomStream } from "./blob-store-contract.ts";
import type { BlobStore } from "./blob-store.ts";
import { openStore } from "./open-store.ts";
import { S3Store } from "./s3-store.ts";

const MiB = 1024 * 1024;
const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

let endpoint: string;
let admin: S3Client;
let bucket: string;
let stores = 0;

beforeAll(async () => {
  endpoint = services().moto.endpoint;
  admin = new S3Client({ endpoint, region: "us-east-1", credentials, forcePathStyle: true });
  bucket = `snapshot-s3-store-${randomBytes(6).toString("hex")}`;
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => {
  admin?.destroy();
});

/** Each test gets its own prefix in the file's bucket, so tests see only their own keys. */
function freshStore(): BlobStore {
  stores += 1;
  return openStore(`s3://${bucket}/stores/t${stores}`, { s3: { endpoint, credentials }, env: {} });
}

describeBlobStoreContract("S3Store on moto", async () => freshStore());

describe("S3Store", () => {
  it("uploads a large body in 8 MiB parts", async () => {
    const store = freshStore();
    await store.put("chunks/big", pseudoRandomStream(20 * MiB + 1, 7));
    const head = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `stores/t${stores}/chunks/big` }));
    // a multipart ETag ends with the number of parts: 8 + 8 + 4 MiB (+1 byte)
    expect(head.ETag).toMatch(/-3"$/);
    expect(head.ContentLength).toBe(20 * MiB + 1);
  });

  it("aborts the multipart upload when the body fails part-way", async () => {
    const store = freshStore();
    const failing = Readable.from(
      (async function* () {
        for (let i = 0; i < 20; i++) yield Buffer.alloc(MiB, i);
        throw new Error("source broke");
      })(),
    );
    await expect(store.put("chunks/broken", failing)).rejects.toThrow("source broke");
    const uploads = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `stores/t${stores}/` }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await store.head("chunks/broken")).toBeUndefined();
  });

  it("lists past the first page of 1000 keys", async () => {
    const store = freshStore();
    const keys = Array.from({ length: 1005 }, (_, i) => `chunks/${String(i).padStart(4, "0")}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, Buffer.from(key))));
    }
    const listed: string[] = [];
    for await (const key of store.list("chunks/")) listed.push(key);
    expect(listed).toEqual(keys);
  });

  it("skips objects whose keys it could not address, such as folder markers", async () => {
    const store = freshStore();
    const prefix = `stores/t${stores}/`;
    await store.put("snapshots/s1/manifest.json", Buffer.from("{}"));
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}snapshots/`, Body: Buffer.alloc(0) }));
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}snapshots//odd`, Body: Buffer.alloc(0) }));
    const listed: string[] = [];
    for await (const key of store.list("")) listed.push(key);
    expect(listed).toEqual(["snapshots/s1/manifest.json"]);
  });

  it("names its location after the bucket and prefix", () => {
    expect(new S3Store({ client: admin, bucket: "b-1", prefix: "x/y/" }).location).toBe("s3://b-1/x/y");
    expect(new S3Store({ client: admin, bucket: "b-1" }).location).toBe("s3://b-1");
  });
});

describe("openStore for S3", () => {
  it("takes the endpoint, region and keys from the environment it is given", async () => {
    const store = openStore(`s3://${bucket}/from-env`, {
      env: {
        DEVENV_S3_ENDPOINT: endpoint,
        AWS_ENDPOINT_URL: "http://127.0.0.1:1",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
      },
    });
    expect(store).toBeInstanceOf(S3Store);
    expect(store.location).toBe(`s3://${bucket}/from-env`);
    await store.put("k", Buffer.from("v"));
    expect(await store.head("k")).toEqual({ size: 1 });
  });

  it("falls back to AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL", async () => {
    const keys = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" };
    for (const variable of ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]) {
      const store = openStore(`s3://${bucket}/fallback`, { env: { ...keys, [variable]: endpoint } });
      expect(await store.head("missing")).toBeUndefined();
    }
  });

  it("rejects a bad bucket, prefix or endpoint naming what is wrong", () => {
    expect(() => openStore("s3://")).toThrow(/"" is not an S3 bucket name/);
    expect(() => openStore("s3://Bad_Bucket/x")).toThrow(/"Bad_Bucket" is not an S3 bucket name/);
    expect(() => openStore("s3://bucket/../x")).toThrow(/invalid blob key/);
    expect(() => openStore("s3://bucket/x", { env: { DEVENV_S3_ENDPOINT: "localhost:4566" } })).toThrow(
      'invalid S3 endpoint "localhost:4566" from environment variable DEVENV_S3_ENDPOINT: expected an http(s) URL',
    );
  });
});
