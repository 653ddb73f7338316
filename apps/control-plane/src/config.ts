import { parseArgs } from "node:util";
import { ControlPlaneConfigError, resolveControlPlaneConfig, type ControlPlaneConfig } from "@devenv/api";

export const usage = `usage: devenv-control-plane [--data-dir DIR] [--port PORT] [--host HOST] [--database-url URL] [--public-url URL] [--blobs DIR|s3://bucket/prefix]

Environment: DEVENV_DATA_DIR, DEVENV_PORT, DEVENV_HOST, DEVENV_DATABASE_URL, DEVENV_PUBLIC_URL,
DEVENV_BLOBS, DEVENV_URL_SIGNING_KEY (hex; the same on every replica). Flags win over the environment.`;

/** Flags, then DEVENV_* env; nothing is read at import time. */
export function loadConfig(env: NodeJS.ProcessEnv, argv: readonly string[]): ControlPlaneConfig {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
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
    throw new ControlPlaneConfigError(`${(error as Error).message}\n${usage}`);
  }
  if (values.help) throw new ControlPlaneConfigError(usage);
  const flag = (name: string) => values[name] as string | undefined;
  return resolveControlPlaneConfig({
    flags: { dataDir: flag("data-dir"), port: flag("port"), host: flag("host"), databaseUrl: flag("database-url"), publicUrl: flag("public-url"), blobs: flag("blobs") },
    env,
  });
}
