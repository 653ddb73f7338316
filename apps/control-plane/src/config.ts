import { parseArgs } from "node:util";
import { loadServerSettings, type ServerSettings } from "@devenv/control-plane";
import { ConfigError } from "@devenv/core";

export const usage = `usage: devenv-control-plane [--config FILE] [--data-dir DIR] [--port PORT] [--host HOST] [--database-url URL] [--public-url URL] [--blobs DIR|s3://bucket/prefix]

The config file (YAML; --config or DEVENV_SERVER_CONFIG) holds every setting; \`devenv server schema\` describes it.
Environment: DEVENV_DATA_DIR, DEVENV_PORT, DEVENV_HOST, DEVENV_DATABASE_URL, DEVENV_PUBLIC_URL,
DEVENV_BLOBS, DEVENV_URL_SIGNING_KEY (hex; the same on every replica), DEVENV_SLACK_SIGNING_SECRET.
Flags win over the environment, which wins over the config file.`;

/** --config FILE, flags, DEVENV_* env; nothing is read at import time. */
export function loadConfig(env: NodeJS.ProcessEnv, argv: readonly string[], warn?: (message: string) => void): ServerSettings {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        config: { type: "string" },
        "data-dir": { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        "database-url": { type: "string" },
        "public-url": { type: "string" },
        blobs: { type: "string" },
        help: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message}\n${usage}`);
  }
  if (values.help) throw new ConfigError(usage);
  const flag = (name: string) => values[name] as string | undefined;
  return loadServerSettings({
    file: flag("config"),
    env,
    flags: { dataDir: flag("data-dir"), port: flag("port"), host: flag("host"), databaseUrl: flag("database-url"), publicUrl: flag("public-url"), blobs: flag("blobs") },
    warn,
  });
}
