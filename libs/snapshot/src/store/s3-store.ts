import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import type * as ClientS3 from "@aws-sdk/client-s3";
import type * as LibStorage from "@aws-sdk/lib-storage";
import { pipeline, Readable, Transform } from "node:stream";
import type { TransformCallback } from "node:stream";
import { assertValidKey, assertValidPrefix, BlobNotFoundError } from "./blob-store.ts";
import type { BlobStore } from "./blob-store.ts";

/** The AWS SDK, loaded on first use: it costs start-up time and memory that local-store runs never need. */
let sdk: Promise<{ s3: typeof ClientS3; storage: typeof LibStorage }> | undefined;
function loadSdk() {
  sdk ??= Promise.all([import("@aws-sdk/client-s3"), import("@aws-sdk/lib-storage")]).then(([s3, storage]) => ({ s3, storage }));
  return sdk;
}

export interface S3StoreOptions {
  /** A client, or the configuration to create one with when first needed. */
  client: S3Client | { config: S3ClientConfig };
  bucket: string;
  /** Folder inside the bucket, e.g. `devenv/store`; empty or absent for the bucket root. */
  prefix?: string;
  /** Multipart part size in bytes (S3's minimum is 5 MiB). */
  partSize?: number;
  /** Parts in flight per put; memory per put is about (queueSize + 2) * partSize. */
  queueSize?: number;
}

const defaultPartSize = 8 * 1024 * 1024;
const defaultQueueSize = 4;

/** A store under a prefix of an S3 bucket (or anything that speaks the S3 API). */
export class S3Store implements BlobStore {
  readonly location: string;
  readonly #clientOption: S3StoreOptions["client"];
  #client: Promise<S3Client> | undefined;
  readonly #bucket: string;
  /** Empty, or ends with `/`. */
  readonly #prefix: string;
  readonly #partSize: number;
  readonly #queueSize: number;

  constructor(options: S3StoreOptions) {
    if (options.bucket === "") throw new Error("S3Store: bucket must not be empty");
    const prefix = (options.prefix ?? "").replace(/\/+$/, "");
    if (prefix !== "") assertValidPrefix(prefix);
    this.#clientOption = options.client;
    this.#bucket = options.bucket;
    this.#prefix = prefix === "" ? "" : `${prefix}/`;
    this.#partSize = options.partSize ?? defaultPartSize;
    this.#queueSize = options.queueSize ?? defaultQueueSize;
    this.location = `s3://${options.bucket}${prefix === "" ? "" : `/${prefix}`}`;
  }

  #s3(): Promise<S3Client> {
    const option = this.#clientOption;
    this.#client ??= "send" in option ? Promise.resolve(option) : loadSdk().then(({ s3 }) => new s3.S3Client(option.config));
    return this.#client;
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const Key = this.#objectKey(key);
    try {
      const { s3 } = await loadSdk();
      const result = await (await this.#s3()).send(new s3.HeadObjectCommand({ Bucket: this.#bucket, Key }));
      return { size: result.ContentLength ?? 0 };
    } catch (error) {
      // HEAD has no error body: a missing key shows only as 404 "NotFound"
      if (error instanceof (await loadSdk()).s3.S3ServiceException && (error.name === "NotFound" || error.name === "NoSuchKey")) {
        return undefined;
      }
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const Key = this.#objectKey(key);
    try {
      const { s3 } = await loadSdk();
      const result = await (await this.#s3()).send(new s3.GetObjectCommand({ Bucket: this.#bucket, Key }));
      if (!(result.Body instanceof Readable)) {
        throw new Error(`get ${key} from ${this.location}: expected a Node.js stream body`);
      }
      return result.Body;
    } catch (error) {
      if (error instanceof (await loadSdk()).s3.S3ServiceException && error.name === "NoSuchKey") {
        throw new BlobNotFoundError(this.location, key);
      }
      throw error;
    }
  }

  async put(key: string, body: Readable | Buffer, size?: number): Promise<void> {
    const Key = this.#objectKey(key);
    if (Buffer.isBuffer(body) && size !== undefined && body.length !== size) {
      throw sizeMismatch(this.location, key, size, body.length);
    }
    // The size check fails the stream itself, before its end reaches the uploader,
    // so a short or long body aborts the upload instead of completing it.
    const source =
      Buffer.isBuffer(body) || size === undefined
        ? body
        : pipeline(body, new ExpectLength(size, (actual) => sizeMismatch(this.location, key, size, actual)), () => {
            // errors reach the uploader through the returned stream
          });
    const { storage } = await loadSdk();
    const upload = new storage.Upload({
      client: await this.#s3(),
      params: { Bucket: this.#bucket, Key, Body: source },
      partSize: this.#partSize,
      queueSize: this.#queueSize,
      // abort the multipart upload on failure: orphaned parts cost money and nobody lists them
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // the uploader stops reading on failure; free the caller's file or socket
      if (!Buffer.isBuffer(source)) source.destroy();
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    let continuationToken: string | undefined;
    do {
      const { s3 } = await loadSdk();
      const page = await (await this.#s3()).send(
        new s3.ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix + prefix,
          ContinuationToken: continuationToken,
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        const key = object.Key.slice(this.#prefix.length);
        // Objects written by other tools (folder markers such as `snapshots/`) have
        // keys this store could not address: they are not blobs of ours.
        if (isValidKey(key)) yield key;
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  async delete(key: string): Promise<void> {
    const Key = this.#objectKey(key);
    const { s3 } = await loadSdk();
    await (await this.#s3()).send(new s3.DeleteObjectCommand({ Bucket: this.#bucket, Key }));
  }

  #objectKey(key: string): string {
    assertValidKey(key);
    return this.#prefix + key;
  }
}

/** Passes bytes through and fails at the end when their count is not `expected`. */
class ExpectLength extends Transform {
  readonly #expected: number;
  readonly #mismatch: (actual: number) => Error;
  #seen = 0;

  constructor(expected: number, mismatch: (actual: number) => Error) {
    super();
    this.#expected = expected;
    this.#mismatch = mismatch;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#seen += chunk.length;
    // fail early on a long body instead of uploading the excess
    if (this.#seen > this.#expected) callback(this.#mismatch(this.#seen));
    else callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    callback(this.#seen === this.#expected ? null : this.#mismatch(this.#seen));
  }
}

function isValidKey(key: string): boolean {
  try {
    assertValidKey(key);
    return true;
  } catch {
    return false;
  }
}

function sizeMismatch(location: string, key: string, expected: number, actual: number): Error {
  const got = actual > expected ? `more than ${expected}` : `${actual}`;
  return new Error(`put ${key} to ${location}: expected ${expected} bytes but the body had ${got}; nothing was written`);
}
