import type { S3ClientConfig } from "@aws-sdk/client-s3";
import { fileURLToPath } from "node:url";
import path from "node:path";
import type { BlobStore } from "./blob-store.ts";
import { LocalDirStore } from "./local-store.ts";
import { S3Store } from "./s3-store.ts";

export interface OpenStoreOptions {
  s3?: {
    endpoint?: string;
    region?: string;
    forcePathStyle?: boolean;
    credentials?: S3ClientConfig["credentials"];
    partSize?: number;
    queueSize?: number;
  };
  /** Where the DEVENV_* and AWS_* settings come from; process.env when absent. */
  env?: NodeJS.ProcessEnv;
}

/** Endpoint variables in order of precedence: ours, then the AWS SDK's own. */
const endpointVariables = ["DEVENV_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] as const;

/**
 * Opens the store a location names: `s3://bucket/prefix`, `file:///abs/dir`, or
 * a directory path (relative paths resolve against the working directory).
 */
export function openStore(location: string, options: OpenStoreOptions = {}): BlobStore {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    if (location === "") throw new Error("store location is empty: give s3://bucket/prefix or a directory path");
    return new LocalDirStore(path.resolve(location));
  }
  switch (scheme) {
    case "s3":
      return openS3Store(location, options);
    case "file":
      return new LocalDirStore(fileLocationToPath(location));
    default:
      throw new Error(
        `unsupported store location ${JSON.stringify(location)}: use s3://bucket/prefix, file:///abs/dir or a directory path`,
      );
  }
}

function fileLocationToPath(location: string): string {
  try {
    return fileURLToPath(location);
  } catch (error) {
    throw new Error(`invalid store location ${JSON.stringify(location)}: expected file:///absolute/dir`, {
      cause: error,
    });
  }
}

function openS3Store(location: string, options: OpenStoreOptions): S3Store {
  // Parsed by hand: URL would lowercase the bucket and percent-encode the prefix.
  if (!location.startsWith("s3://")) {
    throw new Error(`invalid store location ${JSON.stringify(location)}: expected s3://bucket/prefix`);
  }
  const rest = location.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash < 0 ? rest : rest.slice(0, slash);
  const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new Error(
      `invalid store location ${JSON.stringify(location)}: ${JSON.stringify(bucket)} is not an S3 bucket name ` +
        "(3-63 lowercase letters, digits, '.' or '-')",
    );
  }

  const env = options.env ?? process.env;
  const s3 = options.s3 ?? {};
  const endpoint = s3.endpoint !== undefined ? checkEndpoint(s3.endpoint, "option s3.endpoint") : endpointFromEnv(env);
  const config: S3ClientConfig = {
    region: s3.region ?? nonEmpty(env.AWS_REGION) ?? "us-east-1",
    endpoint,
    // S3 look-alikes (moto, MinIO) serve buckets as paths, not as host names
    forcePathStyle: s3.forcePathStyle ?? endpoint !== undefined,
    credentials: s3.credentials ?? credentialsFromEnv(env),
    // Only send and check the checksums S3 demands: look-alikes reject or omit the
    // newer CRC headers, and every chunk carries its own sha256 anyway.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
  // the SDK loads when the store is first used
  return new S3Store({ client: { config }, bucket, prefix, partSize: s3.partSize, queueSize: s3.queueSize });
}

function endpointFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  for (const name of endpointVariables) {
    const value = nonEmpty(env[name]);
    if (value !== undefined) return checkEndpoint(value, `environment variable ${name}`);
  }
  return undefined;
}

function checkEndpoint(value: string, source: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw new Error(`invalid S3 endpoint ${JSON.stringify(value)} from ${source}: expected an http(s) URL`);
  }
  return value;
}

/**
 * Keys from the given env win over the SDK's default chain, which reads
 * process.env only; without them the chain (profiles, instance role) applies.
 */
function credentialsFromEnv(env: NodeJS.ProcessEnv): S3ClientConfig["credentials"] {
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken: nonEmpty(env.AWS_SESSION_TOKEN) };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
