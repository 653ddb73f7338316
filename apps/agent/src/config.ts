import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { z } from "zod";
import { ConfigError, loadLayeredConfig } from "@devenv/core";

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

/** Reads flags (`--control-plane-url`), env (`DEVENV_AGENT_CONTROL_PLANE_URL`) and the config file (JSON or YAML). */
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
  const { value: config } = loadLayeredConfig({
    schema: AgentConfig,
    // the default file is optional: an agent may be configured by flags and env alone
    file: { path: explicitFile ?? defaultConfigFile, required: explicitFile !== undefined },
    env: { values: env, vars: Object.fromEntries(keys.map((key) => [key, envOf(key)])) },
    flags: { values: Object.fromEntries(keys.map((key) => [key, flags[flagOf(key)]])) },
  });
  if (config.joinToken === undefined && config.joinTokenFile !== undefined && existsSync(config.joinTokenFile)) {
    const token = readFileSync(config.joinTokenFile, "utf8").trim();
    if (token !== "") return { ...config, joinToken: token };
  }
  return config;
}

export function usage(): string {
  return [
    "usage: devenv-agent [--config FILE] [--FLAG VALUE ...]",
    "",
    "Each setting comes from its flag, else its DEVENV_AGENT_* variable, else the config file (JSON or YAML)",
    `(--config, DEVENV_AGENT_CONFIG, default ${defaultConfigFile}):`,
    ...keys.map((key) => `  --${flagOf(key).padEnd(26)} ${envOf(key)}`),
  ].join("\n");
}
