import { S3Client } from "@aws-sdk/client-s3";
import { BlobEndpoint, LocalSnapshotAccess, S3Presigner, S3SnapshotAccess, s3Redirect, type SnapshotAccess, type UrlSigner } from "@devenv/api";
import { LocalDirStore, S3Store, type BlobStore } from "@devenv/snapshot";
import type { Clock } from "@devenv/core";
import type { ServerSettings } from "./config/server-config.ts";

export interface BlobAccess {
  /** Where snapshots are published and read. */
  blobs: BlobStore;
  /** Signed URLs that let an agent read one snapshot. */
  snapshotAccess: SnapshotAccess;
  /** Serves (or redirects to) the blobs those URLs name. */
  endpoint: BlobEndpoint;
}

/** The snapshot store the settings name: a directory served by the control plane, or S3 with presigned redirects. */
export function openBlobAccess(
  settings: ServerSettings["blobs"],
  urls: { publicUrl: string; signer: UrlSigner; clock: Clock },
  credentials: AwsCredentials | undefined,
): BlobAccess {
  switch (settings.kind) {
    case "local": {
      const blobs = new LocalDirStore(settings.dir);
      return { blobs, snapshotAccess: new LocalSnapshotAccess(urls), endpoint: new BlobEndpoint({ signer: urls.signer, blobs, clock: urls.clock }) };
    }
    case "s3": {
      const client = new S3Client({
        region: settings.region,
        ...(settings.endpoint ? { endpoint: settings.endpoint, forcePathStyle: true } : {}),
        ...(credentials ? { credentials } : {}),
      });
      const blobs = new S3Store({ client, bucket: settings.bucket, prefix: settings.prefix });
      const presigner = new S3Presigner({ client, bucket: settings.bucket, prefix: settings.prefix, clock: urls.clock });
      return {
        blobs,
        snapshotAccess: new S3SnapshotAccess(presigner, urls),
        endpoint: new BlobEndpoint({ signer: urls.signer, blobs, clock: urls.clock, redirect: s3Redirect(presigner) }),
      };
    }
  }
}

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Keys in the control plane's environment, when it has them; otherwise the SDK's own chain (an instance role) applies. */
export function awsCredentialsFrom(env: NodeJS.ProcessEnv): AwsCredentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
}
