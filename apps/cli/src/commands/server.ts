import { Command } from "commander";
import { fileURLToPath } from "node:url";
import { loadServerSettings, serveUntilSignalled, startControlPlane, maskedServerSettings, serverConfigJsonSchema, type ServerFlags, type ServerSettings } from "@devenv/control-plane";
import { ConfigError } from "@devenv/core";
import { CliError } from "../errors.ts";
import type { CommandContext } from "../program.ts";

const serverExamples = `
Each setting comes from its flag, else its DEVENV_* variable, else the config file, else its default.

Examples:
  $ devenv server                                          # SQLite and blobs in ~/.local/share/devenv/control-plane
  $ devenv server --config /etc/devenv/server.yaml
  $ devenv server check --config /etc/devenv/server.yaml   # validate, print the settings (secrets masked)
  $ devenv server schema > server.schema.json              # for editors' YAML completion`;

interface ServerOptions extends ServerFlags {
  config?: string;
}

/**
 * `devenv server`: the control plane until Ctrl-C or SIGTERM, on the embedded defaults
 * (SQLite and blobs in the data dir) unless a config file, DEVENV_* env or flags say otherwise.
 */
export function serverCommand(context: CommandContext): Command {
  const server = new Command("server")
    .description("run the control plane (API, agent hub, tunnels, jobs, nightly schedule, instances from its provisioners); the first run prints an admin token")
    .option("--config <file>", "the server's config file, YAML (env DEVENV_SERVER_CONFIG; `devenv server schema` describes it)")
    .option("--data-dir <dir>", "where the catalogue, blobs and keys live (env DEVENV_DATA_DIR; default ~/.local/share/devenv/control-plane)")
    .option("--port <port>", "port to listen on, 0 for any free one (env DEVENV_PORT; default 7070)")
    .option("--host <host>", "address to listen on (env DEVENV_HOST; default 127.0.0.1)")
    .option("--database-url <url>", "postgres://… for a shared catalogue (env DEVENV_DATABASE_URL; default SQLite in the data dir)")
    .option("--public-url <url>", "base URL agents reach this server at, for signed snapshot URLs (env DEVENV_PUBLIC_URL)")
    .option("--blobs <location>", "snapshot store: a directory or s3://bucket/prefix (env DEVENV_BLOBS; default <data dir>/blobs)")
    .addHelpText("after", serverExamples)
    .action(async (options: ServerOptions) => {
      const settings = serverSettings(context, options);
      // instances on this machine (the local provisioner) run the agent from this checkout
      const agentCommand = [fileURLToPath(new URL("../../../agent/bin/devenv-agent", import.meta.url))];
      await serveUntilSignalled(() => startControlPlane(settings, { agentCommand, env: context.env }));
    });

  server.addCommand(
    new Command("schema").description("print the JSON Schema of the server's config file (for editors and CI)").action(() => {
      process.stdout.write(`${JSON.stringify(serverConfigJsonSchema(), null, 2)}\n`);
    }),
  );
  server.addCommand(
    new Command("check")
      .description("check the server's settings (config file, env, flags) and print them resolved, secrets masked")
      .option("--json", "print them as JSON")
      .action((options: { json?: boolean }, command: Command) => {
        // the settings' flags belong to `server`: `devenv server check --config x.yaml` gives them to it
        const settings = maskedServerSettings(serverSettings(context, command.parent!.opts<ServerOptions>()));
        const out = context.output(options.json);
        out.result(settings);
        for (const line of describeSettings(settings)) out.line(line);
      }),
  );
  return server;
}

function serverSettings(context: CommandContext, { config, ...flags }: ServerOptions): ServerSettings {
  try {
    return loadServerSettings({ file: config, env: context.env, flags, warn: (warning) => process.stderr.write(`devenv: warning: ${warning}\n`) });
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError("config", error.message, { cause: error });
    throw error;
  }
}

/** One line per top-level setting with where it came from. */
function describeSettings(settings: ServerSettings): string[] {
  const { sourceOf, ...values } = settings;
  const width = Math.max(...Object.keys(values).map((key) => key.length));
  return Object.entries(values).map(([key, value]) => `${key.padEnd(width)}  ${JSON.stringify(value) ?? "(not set)"}  [${sourceOf[key] ?? "default"}]`);
}
