import { Command } from "commander";
import { fileURLToPath } from "node:url";
import { ControlPlaneConfigError, controlPlaneOptionsFrom, resolveControlPlaneConfig, serveUntilSignalled, startDevenvServer } from "@devenv/api";
import { CliError } from "../errors.ts";
import type { CommandContext } from "../program.ts";

interface ServerFlags {
  dataDir?: string;
  port?: string;
  host?: string;
  databaseUrl?: string;
  publicUrl?: string;
  blobs?: string;
}

/** `devenv server`: the control plane on the embedded defaults (SQLite and blobs in the data dir) until Ctrl-C or SIGTERM. */
export function serverCommand(context: CommandContext): Command {
  return new Command("server")
    .description("run the control plane (API, agent hub, tunnels, jobs, nightly schedule, local instances); the first run prints an admin token")
    .option("--data-dir <dir>", "where the catalogue, blobs and keys live (env DEVENV_DATA_DIR; default ~/.local/share/devenv/control-plane)")
    .option("--port <port>", "port to listen on, 0 for any free one (env DEVENV_PORT; default 7070)")
    .option("--host <host>", "address to listen on (env DEVENV_HOST; default 127.0.0.1)")
    .option("--database-url <url>", "postgres://… for a shared catalogue (env DEVENV_DATABASE_URL; default SQLite in the data dir)")
    .option("--public-url <url>", "base URL agents reach this server at, for signed snapshot URLs (env DEVENV_PUBLIC_URL)")
    .option("--blobs <location>", "snapshot store: a directory or s3://bucket/prefix (env DEVENV_BLOBS; default <data dir>/blobs)")
    .action(async (flags: ServerFlags) => {
      let options;
      try {
        options = controlPlaneOptionsFrom(resolveControlPlaneConfig({ flags, env: context.env }), context.env);
      } catch (error) {
        if (error instanceof ControlPlaneConfigError) throw new CliError("config", error.message, { cause: error });
        throw error;
      }
      // instances on this machine (the local provisioner) run the agent from this checkout
      const agentCommand = [fileURLToPath(new URL("../../../agent/bin/devenv-agent", import.meta.url))];
      await serveUntilSignalled(() => startDevenvServer({ ...options, agentCommand }));
    });
}
