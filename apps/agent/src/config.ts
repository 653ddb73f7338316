import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { CodedError } from "@devenv/core";

/** The agent's settings. Precedence: flags, then DEVENV_AGENT_* env, then the config file. */
export const AgentConfig = z
  .object({
    controlPlaneUrl: z.url({ protocol: /^wss?$/, error: "expected a ws:// or wss:// URL of the control plane's agent endpoint" }),
    joinToken: z.string().min(1).optional(),
    /** A file holding the join token (cloud-init writes one); read when joinToken is absent. */
    joinTokenFile: z.string().min(1).optional(),
    stateDir: z.string().min(1),
    cassandraContactPoint: z.string().regex(/^(\[[^\]]+\]|[^:\s]+)(:\d{1,5})?$/, "expected HOST:PORT"),
    cassandraDataCenter: z.string().min(1).default("datacenter1"),
    /** A path on the volume that holds Cassandra's data; its free space is reported. */
    dataVolume: z.string().min(1),
    provider: z.enum(["local", "ec2", "static"]),
    metadataEndpoint: z.url().optional(),
    instanceId: z.string().min(1).optional(),
    instanceType: z.string().min(1).optional(),
    region: z.string().min(1).optional(),
    zone: z.string().min(1).optional(),
    spotPollIntervalMs: z.coerce.number().int().min(100).default(5_000),
    /** Restores by CQL only, never by writing SSTables (hosts without a JDK). */
    loadPath: z.enum(["auto", "cql"]).default("auto"),
    /** Chunks loaded at once; lower it on a host shared with other work. */
    restoreChunkConcurrency: z.coerce.number().int().min(1).max(64).default(4),
  })
  .strict();
export type AgentConfig = z.infer<typeof AgentConfig>;
type Key = keyof AgentConfig;

const keys = Object.keys(AgentConfig.shape) as Key[];
const flagOf = (key: Key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envOf = (key: Key) => `DEVENV_AGENT_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

export const defaultConfigFile = "/etc/devenv/agent.json";

export class ConfigError extends CodedError<"invalid-config"> {
  constructor(message: string) {
    super("invalid-config", message);
    this.name = "ConfigError";
  }
}

/** Reads flags (`--control-plane-url`), env (`DEVENV_AGENT_CONTROL_PLANE_URL`) and the JSON config file. */
export function loadConfig(env: NodeJS.ProcessEnv, argv: string[]): AgentConfig & { joinToken?: string } {
  let flags: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    flags = parseArgs({
      args: argv,
      options: Object.fromEntries([...keys.map((key) => [flagOf(key), { type: "string" as const }]), ["config", { type: "string" as const }], ["help", { type: "boolean" as const }]]),
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}; run with --help for the flags`);
  }
  if (flags.help) throw new ConfigError(usage());
  const explicitFile = (flags.config as string | undefined) ?? env.DEVENV_AGENT_CONFIG;
  const file = explicitFile ?? defaultConfigFile;
  const merged: Record<string, unknown> = {};
  const sourceOf: Record<string, string> = {};
  for (const [key, value] of Object.entries(readConfigFile(file, explicitFile !== undefined))) {
    merged[key] = value;
    sourceOf[key] = `config file ${file}`;
  }
  for (const key of keys) {
    const value = env[envOf(key)];
    if (value !== undefined && value !== "") {
      merged[key] = value;
      sourceOf[key] = `env ${envOf(key)}`;
    }
  }
  for (const key of keys) {
    const value = flags[flagOf(key)];
    if (typeof value === "string") {
      merged[key] = value;
      sourceOf[key] = `flag --${flagOf(key)}`;
    }
  }
  const parsed = AgentConfig.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? "config");
    const where = sourceOf[field] ?? `not set: give --${flagOf(field as Key)}, ${envOf(field as Key)} or "${field}" in ${file}`;
    throw new ConfigError(`invalid ${field} (${where}): ${issue?.message}`);
  }
  const config = parsed.data;
  if (config.joinToken === undefined && config.joinTokenFile !== undefined && existsSync(config.joinTokenFile)) {
    const token = readFileSync(config.joinTokenFile, "utf8").trim();
    if (token !== "") return { ...config, joinToken: token };
  }
  return config;
}

function readConfigFile(file: string, required: boolean): Record<string, unknown> {
  if (!existsSync(file)) {
    if (required) throw new ConfigError(`config file not found: ${file}`);
    return {};
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = AgentConfig.partial().strict().safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`config file ${file}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return parsed.data;
}

export function usage(): string {
  return [
    "usage: devenv-agent [--config FILE] [--FLAG VALUE ...]",
    "",
    "Each setting comes from its flag, else its DEVENV_AGENT_* variable, else the JSON config file",
    `(--config, DEVENV_AGENT_CONFIG, default ${defaultConfigFile}):`,
    ...keys.map((key) => `  --${flagOf(key).padEnd(26)} ${envOf(key)}`),
  ].join("\n");
}
