import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { SnapshotLocation } from "@devenv/protocol";
import { snapshotKeys } from "@devenv/protocol";
import type { Clock } from "@devenv/core";
import { defaultUrlTtlMs, signedBlobUrl, type SignedUrlOptions, type SnapshotAccess } from "./snapshot-access.ts";

export interface S3PresignerOptions {
  client: S3Client;
  bucket: string;
  /** Folder inside the bucket the blob store uses; empty for the root. */
  prefix?: string;
  clock: Clock;
}

/** Presigned S3 URLs for keys of the snapshot store (SigV4 query signing, signed at the injected clock's time). */
export class S3Presigner {
  readonly #options: S3PresignerOptions;
  readonly #prefix: string;

  constructor(options: S3PresignerOptions) {
    this.#options = options;
    const prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    this.#prefix = prefix === "" ? "" : `${prefix}/`;
  }

  async presign(key: string, method: "GET" | "HEAD", expiresInSeconds: number): Promise<string> {
    const input = { Bucket: this.#options.bucket, Key: `${this.#prefix}${key}` };
    const command = method === "GET" ? new GetObjectCommand(input) : new HeadObjectCommand(input);
    // S3 caps a presigned URL at 7 days
    const expiresIn = Math.max(1, Math.min(expiresInSeconds, 7 * 24 * 3600));
    return getSignedUrl(this.#options.client, command, { expiresIn, signingDate: this.#options.clock.now() });
  }
}

/**
 * Snapshots in S3: the manifest URL is presigned by S3 itself. Chunks are named by a
 * template (`{sha256}`), which no S3 signature can cover, so the chunk template points at
 * the control plane's blob endpoint (signed for this snapshot), which answers each chunk
 * with a redirect to a freshly presigned S3 URL. The bytes flow from S3 to the host.
 */
export class S3SnapshotAccess implements SnapshotAccess {
  readonly #presigner: S3Presigner;
  readonly #urls: SignedUrlOptions;

  constructor(presigner: S3Presigner, urls: SignedUrlOptions) {
    this.#presigner = presigner;
    this.#urls = urls;
  }

  async locate(snapshotId: string): Promise<SnapshotLocation> {
    const ttlSeconds = Math.floor((this.#urls.ttlMs ?? defaultUrlTtlMs) / 1000);
    return {
      id: snapshotId,
      manifestUrl: await this.#presigner.presign(snapshotKeys.manifest(snapshotId), "GET", ttlSeconds),
      chunkUrlTemplate: signedBlobUrl(this.#urls, snapshotId, snapshotKeys.chunk("{sha256}")),
    };
  }
}

/** How the blob endpoint answers a chunk request in S3 mode: a short-lived presigned URL. */
export function s3Redirect(presigner: S3Presigner, ttlSeconds = 15 * 60): (key: string, method: "GET" | "HEAD") => Promise<string> {
  return (key, method) => presigner.presign(key, method, ttlSeconds);
}
