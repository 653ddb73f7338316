import { chmodSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";
import { ConfigError, loadLayeredConfig } from "@devenv/core";
import { CliError } from "./errors.ts";

/** Settings every command shares. Precedence: flags, then DEVENV_* env, then the config file. */
export const CliConfig = z.strictObject({
  cacheDir: z.string().min(1),
  stateDir: z.string().min(1),
  /** The control plane's base URL (`devenv login` writes it). */
  server: z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL of the control plane" }).optional(),
  token: z.string().min(1).optional(),
});
export type CliConfig = z.infer<typeof CliConfig>;

const envNames: Record<keyof CliConfig, string> = {
  cacheDir: "DEVENV_CACHE_DIR",
  stateDir: "DEVENV_STATE_DIR",
  server: "DEVENV_SERVER",
  token: "DEVENV_TOKEN",
};

export interface ConfigSources {
  env: NodeJS.ProcessEnv;
  /** Global flags already parsed by the program. */
  flags: Partial<CliConfig> & { config?: string };
}

export function defaultConfigFile(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME ?? join(env.HOME ?? homedir(), ".config"), "devenv", "config.json");
}

/** The config file this run reads and `devenv login` writes: --config, then DEVENV_CONFIG, then the XDG default. */
export function configFilePath({ env, flags }: ConfigSources): string {
  return flags.config ?? env.DEVENV_CONFIG ?? defaultConfigFile(env);
}

export function loadConfig({ env, flags }: ConfigSources): CliConfig {
  const home = env.HOME ?? homedir();
  return withCliErrors(
    () =>
      loadLayeredConfig({
        schema: CliConfig,
        file: { path: configFilePath({ env, flags }), required: flags.config !== undefined || env.DEVENV_CONFIG !== undefined },
        env: { values: env, vars: envNames },
        flags: { values: { cacheDir: flags.cacheDir, stateDir: flags.stateDir, server: flags.server, token: flags.token } },
        defaults: { cacheDir: join(home, ".cache", "devenv"), stateDir: join(home, ".local", "state", "devenv") },
      }).value,
  );
}

function readConfigFile(file: string): Partial<CliConfig> {
  return withCliErrors(() => loadLayeredConfig({ schema: CliConfig.partial(), file: { path: file, required: true } }).value);
}

function withCliErrors<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError("config", error.message, { cause: error });
    throw error;
  }
}

/**
 * Sets (or, with undefined, removes) keys of the config file and keeps the others. The
 * file holds an API token, so it is written 0600 in a 0700 directory, through a temp file
 * so a crash never leaves half of it. Returns what the file held before.
 */
export function updateConfigFile(file: string, changes: Partial<Record<keyof CliConfig, string | undefined>>): Partial<CliConfig> {
  const current = existsSync(file) ? readConfigFile(file) : {};
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  const parsed = CliConfig.partial().strict().safeParse(next);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CliError("usage", `invalid ${issue?.path.join(".") || "config"}: ${issue?.message}`);
  }
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(parsed.data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
  return current;
}
