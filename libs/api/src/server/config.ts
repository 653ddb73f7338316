import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { parseStoreUrl } from "@devenv/store";
import type { BlobsConfig, ControlPlaneOptions } from "./control-plane.ts";

/**
 * The control plane's settings, one schema for `devenv server` and the control-plane app.
 * Precedence: flags, then environment (DEVENV_*). Secrets come from the environment only
 * (a flag would show in `ps`).
 */
export const ControlPlaneConfig = z.strictObject({
  dataDir: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65_535),
  host: z.string().min(1),
  databaseUrl: z
    .string()
    .min(1)
    .refine((url) => {
      try {
        parseStoreUrl(url);
        return true;
      } catch {
        return false;
      }
    }, "expected postgres://…, sqlite:/path or a file path")
    .optional(),
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** Where snapshots live: a directory, or s3://bucket/prefix (S3 endpoint from DEVENV_S3_ENDPOINT / AWS_*). */
  blobs: z.string().min(1).optional(),
  urlSigningKey: z.string().regex(/^([0-9a-fA-F]{2}){32,}$/, "expected at least 64 hex digits (openssl rand -hex 32)").optional(),
});
export type ControlPlaneConfig = z.infer<typeof ControlPlaneConfig>;

type Key = keyof ControlPlaneConfig;
const envNames: Record<Key, string> = {
  dataDir: "DEVENV_DATA_DIR",
  port: "DEVENV_PORT",
  host: "DEVENV_HOST",
  databaseUrl: "DEVENV_DATABASE_URL",
  publicUrl: "DEVENV_PUBLIC_URL",
  blobs: "DEVENV_BLOBS",
  urlSigningKey: "DEVENV_URL_SIGNING_KEY",
};
const flagNames: Partial<Record<Key, string>> = {
  dataDir: "--data-dir",
  port: "--port",
  host: "--host",
  databaseUrl: "--database-url",
  publicUrl: "--public-url",
  blobs: "--blobs",
};

export class ControlPlaneConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlPlaneConfigError";
  }
}

/** Flags first, then env, then the embedded defaults: a data dir in the user's home, port 7070 on loopback. */
export function resolveControlPlaneConfig(input: { flags: Partial<Record<Exclude<Key, "urlSigningKey">, string | number | undefined>>; env: NodeJS.ProcessEnv }): ControlPlaneConfig {
  const merged: Record<string, unknown> = {
    dataDir: join(input.env.XDG_DATA_HOME ?? join(input.env.HOME ?? homedir(), ".local", "share"), "devenv", "control-plane"),
    port: 7070,
    host: "127.0.0.1",
  };
  const sourceOf: Record<string, string> = {};
  for (const key of Object.keys(envNames) as Key[]) {
    const fromFlag = key === "urlSigningKey" ? undefined : input.flags[key];
    const fromEnv = input.env[envNames[key]];
    if (fromFlag !== undefined && fromFlag !== "") {
      merged[key] = fromFlag;
      sourceOf[key] = `flag ${flagNames[key]}`;
    } else if (fromEnv !== undefined && fromEnv !== "") {
      merged[key] = fromEnv;
      sourceOf[key] = `env ${envNames[key]}`;
    }
  }
  const parsed = ControlPlaneConfig.safeParse(merged);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? "");
    return `${key} (${sourceOf[key] ?? "default"}): ${issue.message}`;
  });
  throw new ControlPlaneConfigError(`invalid control-plane settings: ${problems.join("; ")}`);
}

/** The options startControlPlane takes for these settings. */
export function controlPlaneOptionsFrom(config: ControlPlaneConfig, env: NodeJS.ProcessEnv): ControlPlaneOptions {
  return {
    dataDir: config.dataDir,
    port: config.port,
    host: config.host,
    databaseUrl: config.databaseUrl,
    publicUrl: config.publicUrl,
    urlSigningKey: config.urlSigningKey,
    blobs: blobsFrom(config.blobs, env),
  };
}

function blobsFrom(location: string | undefined, env: NodeJS.ProcessEnv): BlobsConfig | undefined {
  if (location === undefined) return undefined;
  if (!location.startsWith("s3://")) return { kind: "local", dir: location };
  const [bucket, ...rest] = location.slice("s3://".length).split("/");
  if (!bucket) throw new ControlPlaneConfigError(`blobs: ${location} names no bucket; expected s3://bucket/prefix`);
  const endpoint = env.DEVENV_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  return {
    kind: "s3",
    bucket,
    prefix: rest.join("/"),
    client: { region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1", ...(endpoint ? { endpoint, forcePathStyle: true } : {}) },
  };
}

/**
 * Runs the control plane until SIGTERM or SIGINT, then shuts it down gracefully (a second
 * signal exits at once). Resolves after the shutdown.
 */
export async function serveUntilSignalled(start: () => Promise<{ url: string; close(): Promise<void> }>, signals: NodeJS.EventEmitter = process): Promise<void> {
  const plane = await start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`${signal}: shutting down\n`);
      resolve();
    };
    signals.on("SIGTERM", onSignal);
    signals.on("SIGINT", onSignal);
  });
  await plane.close();
}
