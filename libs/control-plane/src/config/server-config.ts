import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError, describeSource, Duration, loadLayeredConfig, resolveSecret, SecretRef, type EnvValues } from "@devenv/core";
import { ProvisionersConfig } from "@devenv/fleet";
import { parseStoreUrl } from "@devenv/store";

/** A duration that must be longer than zero (a poll or heartbeat interval). */
const PositiveDuration = Duration.refine((ms) => ms > 0, "expected a duration longer than 0");

const HostPort = z.string().regex(/^(\[[^\]]+\]|[^:\s[\]]+)(:\d{1,5})?$/, "expected HOST or HOST:PORT");

const StoreUrl = z
  .string()
  .min(1)
  .superRefine((url, ctx) => {
    try {
      parseStoreUrl(url);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });

const s3Location = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/.*)?$/;
const BlobsLocation = z
  .string()
  .min(1)
  .refine((location) => !location.startsWith("s3://") || s3Location.test(location), "expected s3://bucket/prefix with a valid bucket name");

export const SourceConfig = z.strictObject({
  contactPoints: z.array(HostPort).min(1, "give at least one contact point (HOST:PORT)"),
  keyspace: z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,47}$/, "expected a Cassandra keyspace name"),
  rules: z.string().min(1).meta({ description: "the shrink rules file (YAML); relative to this config file's directory" }),
  localDataCenter: z.string().min(1).default("datacenter1"),
});

/**
 * The control plane's config file (YAML). Every object is strict: a misspelt key is an
 * error naming its line, never a setting silently left at its default.
 */
export const ServerConfigFile = z
  .strictObject({
    dataDir: z.string().min(1).optional().meta({ description: "catalogue (SQLite), blobs and keys; default $XDG_DATA_HOME/devenv/control-plane" }),
    host: z.string().min(1).default("127.0.0.1").meta({ description: "address to listen on" }),
    port: z.coerce.number().int().min(0).max(65_535).default(7070).meta({ description: "port to listen on; 0 picks a free one" }),
    publicUrl: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }).optional().meta({ description: "base URL agents reach this server at (signed snapshot URLs)" }),
    databaseUrl: z
      .union([StoreUrl, SecretRef], { error: "expected postgres://…, sqlite:/path or a file path, or { env: NAME } / { file: PATH } holding one" })
      .optional()
      .meta({ description: "postgres://… for a catalogue shared by replicas (a { env } or { file } reference keeps its password out of this file); default SQLite in dataDir" }),
    blobs: z
      .union([
        BlobsLocation,
        z
          .strictObject({ location: BlobsLocation, region: z.string().min(1).optional(), endpoint: z.url({ protocol: /^https?$/ }).optional() })
          .refine((blobs) => blobs.location.startsWith("s3://") || (blobs.region === undefined && blobs.endpoint === undefined), {
            message: "region and endpoint are for s3:// locations",
            path: ["location"],
          }),
      ])
      .optional()
      .meta({ description: "snapshot store: a directory or s3://bucket/prefix, or { location, region, endpoint }; default <dataDir>/blobs" }),
    urlSigningKey: SecretRef.optional().meta({ description: "hex key (openssl rand -hex 32) for signed blob URLs, the same on every replica; default a key file in dataDir" }),
    sources: z
      .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, "expected a source name (letters, digits, - and _, starting with a letter)"), SourceConfig)
      .default({})
      .meta({ description: "production Cassandra clusters to shrink, by name; the first is the default for scheduled and requested shrinks" }),
    slack: z
      .strictObject({ signingSecret: SecretRef, teamId: z.string().regex(/^T[A-Z0-9]{2,30}$/, "expected a Slack team id such as T0A1B2C3D").optional() })
      .optional()
      .meta({ description: "Slack slash commands; without it (and without DEVENV_SLACK_SIGNING_SECRET) /slack/commands answers 503" }),
    reaper: z
      .strictObject({
        ttl: Duration.prefault("12h").meta({ description: "time to live of a personal instance when its owner gives none" }),
        maxTtl: Duration.prefault("14d").meta({ description: "the longest time to live an owner may ask for or extend to" }),
        idleLimit: Duration.prefault("2h").meta({ description: "a personal instance nobody used this long is reaped" }),
        warnBefore: Duration.prefault("30m").meta({ description: "how long before reaping the owner is warned" }),
      })
      // compared only once both are durations
      .refine((reaper) => reaper.ttl <= reaper.maxTtl, { message: "longer than maxTtl", path: ["ttl"], when: (payload) => payload.issues.length === 0 })
      .prefault({}),
    quota: z
      .strictObject({ instancesPerUser: z.number().int().min(1).optional().meta({ description: "personal instances one user may have at once; default no limit" }) })
      .prefault({}),
    jobs: z
      .strictObject({
        concurrency: z.number().int().min(0).max(64).default(1).meta({ description: "jobs this replica runs at once (a shrink is heavy); 0: this replica runs none (an API-only replica)" }),
        taskConcurrency: z.number().int().min(1).max(64).default(2).meta({ description: "shrink tasks (token-range parts) this replica runs at once" }),
        pollInterval: PositiveDuration.prefault("1s").meta({ description: "how often an idle job runner looks for work" }),
        rolloutTimeout: PositiveDuration.prefault("2h").meta({ description: "how long a refresh waits for one instance's restore" }),
      })
      .prefault({}),
    intervals: z
      .strictObject({
        heartbeat: PositiveDuration.prefault("10s").meta({ description: "agents' heartbeat interval" }),
        maintenance: Duration.prefault("60s").meta({ description: "fleet maintenance (timeouts, reaper) every this often; 0 turns it off" }),
        scheduler: PositiveDuration.prefault("15s").meta({ description: "due schedules are checked this often" }),
        agentSupervision: Duration.prefault("2s").meta({ description: "local agents that died are restarted within this; 0 turns it off" }),
      })
      .prefault({}),
    provisioners: ProvisionersConfig.prefault({}).meta({ description: "how personal and shared instances get hosts: local, ec2 or static; default both local" }),
  })
  .meta({ title: "devenv control plane configuration" });
export type ServerConfigFile = z.input<typeof ServerConfigFile>;

/** The JSON Schema of the config file, for editors and CI checks (defaults optional, durations as text). */
export function serverConfigJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ServerConfigFile, { io: "input" });
}

export type BlobsSettings = { kind: "local"; dir: string } | { kind: "s3"; bucket: string; prefix: string; region: string; endpoint: string | undefined };

export interface SourceSettings {
  name: string;
  contactPoints: string[];
  keyspace: string;
  /** Absolute. */
  rules: string;
  localDataCenter: string;
}

/** The control plane's settings, resolved: defaults applied, secrets read, paths absolute, durations in ms. */
export interface ServerSettings {
  dataDir: string;
  host: string;
  /** 0: any free port. */
  port: number;
  publicUrl: string | undefined;
  databaseUrl: string | undefined;
  blobs: BlobsSettings;
  urlSigningKey: string | undefined;
  /** In file order: the first is the default for scheduled and requested shrinks. */
  sources: SourceSettings[];
  slack: { signingSecret: string; teamId: string | undefined } | undefined;
  reaper: { ttlMs: number; maxTtlMs: number; idleLimitMs: number; warnBeforeMs: number };
  quota: { instancesPerUser: number | undefined };
  jobs: { concurrency: number; taskConcurrency: number; pollMs: number; rolloutTimeoutMs: number };
  /** 0 turns maintenance or agent supervision off. */
  intervals: { heartbeatMs: number; maintenanceMs: number; schedulerMs: number; agentSupervisionMs: number };
  provisioners: ProvisionersConfig;
  /** Where each top-level value came from, for the start-up log line. */
  sourceOf: Record<string, string>;
}

/** The flags of `devenv server` and `devenv-control-plane`, as given (undefined when not). */
export interface ServerFlags {
  dataDir?: string;
  port?: string | number;
  host?: string;
  databaseUrl?: string;
  publicUrl?: string;
  blobs?: string;
}

export const serverEnvVars = {
  dataDir: "DEVENV_DATA_DIR",
  port: "DEVENV_PORT",
  host: "DEVENV_HOST",
  databaseUrl: "DEVENV_DATABASE_URL",
  publicUrl: "DEVENV_PUBLIC_URL",
  blobs: "DEVENV_BLOBS",
} as const;
export const urlSigningKeyEnvVar = "DEVENV_URL_SIGNING_KEY";
export const slackSigningSecretEnvVar = "DEVENV_SLACK_SIGNING_SECRET";
/** Names the config file when --config does not. */
export const serverConfigEnvVar = "DEVENV_SERVER_CONFIG";

export interface LoadServerSettingsInput {
  /** The config file (--config); default $DEVENV_SERVER_CONFIG; without either, flags, env and defaults alone. */
  file?: string;
  env: EnvValues;
  flags?: ServerFlags;
  /** Told of things to fix that do not stop the server (a secret file others can read). */
  warn?: (message: string) => void;
}

/**
 * The control plane's settings from its config file, DEVENV_* env and flags (flags win,
 * then env, then the file, then defaults). Throws a ConfigError listing every problem with
 * its FILE:LINE:COL, env var or flag.
 */
export function loadServerSettings(input: LoadServerSettingsInput): ServerSettings {
  const { env } = input;
  const file = input.file ?? nonEmpty(env[serverConfigEnvVar]);
  const filePath = file === undefined ? undefined : resolve(file);
  const loaded = loadLayeredConfig({
    schema: ServerConfigFile,
    file: filePath === undefined ? undefined : { path: filePath, required: true },
    env: { values: env, vars: serverEnvVars, secrets: { urlSigningKey: urlSigningKeyEnvVar } },
    flags: { values: { ...input.flags } },
  });
  const settings = loaded.value;
  // paths written in the file are relative to the file; given on the command line, to the working directory
  const configDir = filePath === undefined ? process.cwd() : dirname(filePath);
  const absolute = (setting: keyof typeof loaded.sources, path: string) => resolve(loaded.sources[setting]?.layer === "file" ? configDir : process.cwd(), path);

  const problems: string[] = [];
  const secret = (path: PropertyKey[], ref: SecretRef): string | undefined => {
    try {
      const resolved = resolveSecret(ref, env, { baseDir: configDir });
      if (resolved.warning !== undefined) input.warn?.(resolved.warning);
      return resolved.value;
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(loaded.problemAt(path, error.message));
      return undefined;
    }
  };

  const urlSigningKey = settings.urlSigningKey === undefined ? undefined : secret(["urlSigningKey"], settings.urlSigningKey);
  if (urlSigningKey !== undefined && !/^([0-9a-fA-F]{2}){32,}$/.test(urlSigningKey)) {
    problems.push(loaded.problemAt(["urlSigningKey"], "expected at least 64 hex digits (openssl rand -hex 32)"));
  }
  const databaseUrl = typeof settings.databaseUrl === "object" ? secret(["databaseUrl"], settings.databaseUrl) : settings.databaseUrl;
  if (typeof settings.databaseUrl === "object" && databaseUrl !== undefined) {
    try {
      parseStoreUrl(databaseUrl);
    } catch (error) {
      problems.push(loaded.problemAt(["databaseUrl"], `the referenced value: ${(error as Error).message}`));
    }
  }
  const sourceOf: Record<string, string> = { ...loaded.sourceOf };
  const envSlackSecret = nonEmpty(env[slackSigningSecretEnvVar]?.trim());
  let slack: ServerSettings["slack"];
  if (settings.slack !== undefined) {
    const signingSecret = secret(["slack", "signingSecret"], settings.slack.signingSecret);
    slack = signingSecret === undefined ? undefined : { signingSecret, teamId: settings.slack.teamId };
  } else if (envSlackSecret !== undefined) {
    // as before the config file: the variable alone turns Slack commands on
    slack = { signingSecret: envSlackSecret, teamId: undefined };
    sourceOf.slack = describeSource({ layer: "env", name: slackSigningSecretEnvVar });
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = settings.dataDir === undefined ? defaultDataDir(env) : absolute("dataDir", settings.dataDir);
  const resolvedSettings: Omit<ServerSettings, "sourceOf"> = {
    dataDir,
    host: settings.host,
    port: settings.port,
    publicUrl: settings.publicUrl,
    databaseUrl,
    blobs: blobsSettings(settings.blobs, dataDir, env, (path) => absolute("blobs", path)),
    urlSigningKey,
    sources: Object.entries(settings.sources).map(([name, source]) => ({
      name,
      contactPoints: source.contactPoints,
      keyspace: source.keyspace,
      rules: resolve(configDir, source.rules),
      localDataCenter: source.localDataCenter,
    })),
    slack,
    reaper: { ttlMs: settings.reaper.ttl, maxTtlMs: settings.reaper.maxTtl, idleLimitMs: settings.reaper.idleLimit, warnBeforeMs: settings.reaper.warnBefore },
    quota: { instancesPerUser: settings.quota.instancesPerUser },
    jobs: {
      concurrency: settings.jobs.concurrency,
      taskConcurrency: settings.jobs.taskConcurrency,
      pollMs: settings.jobs.pollInterval,
      rolloutTimeoutMs: settings.jobs.rolloutTimeout,
    },
    intervals: {
      heartbeatMs: settings.intervals.heartbeat,
      maintenanceMs: settings.intervals.maintenance,
      schedulerMs: settings.intervals.scheduler,
      agentSupervisionMs: settings.intervals.agentSupervision,
    },
    provisioners: settings.provisioners,
  };
  return { ...resolvedSettings, sourceOf: Object.fromEntries(Object.keys(resolvedSettings).map((setting) => [setting, sourceOf[setting] ?? "default"])) };
}

/** $XDG_DATA_HOME/devenv/control-plane, else ~/.local/share/devenv/control-plane. */
export function defaultDataDir(env: EnvValues): string {
  return join(nonEmpty(env.XDG_DATA_HOME) ?? join(nonEmpty(env.HOME) ?? homedir(), ".local", "share"), "devenv", "control-plane");
}

function blobsSettings(blobs: z.output<typeof ServerConfigFile>["blobs"], dataDir: string, env: EnvValues, absolute: (path: string) => string): BlobsSettings {
  if (blobs === undefined) return { kind: "local", dir: join(dataDir, "blobs") };
  const { location, region, endpoint } = typeof blobs === "string" ? { location: blobs, region: undefined, endpoint: undefined } : blobs;
  if (!location.startsWith("s3://")) return { kind: "local", dir: absolute(location) };
  const [bucket = "", ...prefix] = location.slice("s3://".length).split("/");
  return {
    kind: "s3",
    bucket,
    prefix: prefix.join("/"),
    region: region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? "us-east-1",
    endpoint: endpoint ?? nonEmpty(env.DEVENV_S3_ENDPOINT) ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL),
  };
}

/** The settings with every secret masked, for printing and logging. */
export function maskedServerSettings(settings: ServerSettings): ServerSettings {
  const mask = "********";
  return {
    ...settings,
    databaseUrl: settings.databaseUrl === undefined ? undefined : withoutPassword(settings.databaseUrl, mask),
    urlSigningKey: settings.urlSigningKey === undefined ? undefined : mask,
    slack: settings.slack === undefined ? undefined : { ...settings.slack, signingSecret: mask },
  };
}

function withoutPassword(url: string, mask: string): string {
  if (!/^postgres(ql)?:\/\//i.test(url)) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password === "") return url;
    parsed.password = mask;
    return parsed.toString();
  } catch {
    return mask;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
