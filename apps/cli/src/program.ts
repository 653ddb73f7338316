import { Command, CommanderError } from "commander";
import { loadConfig, type CliConfig } from "./config.ts";
import { CliError } from "./errors.ts";
import { createOutput, type Output } from "./output.ts";
import { cassandraCommand } from "./commands/cassandra.ts";
import { snapshotCommand } from "./commands/snapshot.ts";
import { shrinkCommand } from "./commands/shrink.ts";
import { generateCommand } from "./commands/generate.ts";
import { forwardCommand, useCommand } from "./commands/forward.ts";

/** What every command receives: resolved config and where to write. */
export interface CommandContext {
  config(): CliConfig;
  output(json?: boolean): Output;
  /** The environment the program was created with (commands read DEVENV_* from it, never process.env). */
  env: NodeJS.ProcessEnv;
}

export function createProgram(env: NodeJS.ProcessEnv): Command {
  const program = new Command("devenv")
    .description("Production-shaped, PII-free Cassandra databases for every developer")
    .version(process.env.npm_package_version ?? "0.1.0", "-V, --version")
    .option("--config <file>", "config file (default: ~/.config/devenv/config.json, env DEVENV_CONFIG)")
    .option("--cache-dir <dir>", "where downloads are kept (env DEVENV_CACHE_DIR)")
    .option("--state-dir <dir>", "where local state is kept (env DEVENV_STATE_DIR)");

  const context: CommandContext = {
    config: () => {
      const flags = program.opts<{ config?: string; cacheDir?: string; stateDir?: string }>();
      return loadConfig({ env, flags });
    },
    output: (json = false) => createOutput({ json }),
    env,
  };

  program.addCommand(cassandraCommand(context));
  program.addCommand(snapshotCommand(context));
  program.addCommand(shrinkCommand(context));
  program.addCommand(generateCommand(context));
  program.addCommand(forwardCommand(context));
  // named targets (shared, mine, an instance id) need a resolver: see ForwardCommandOptions
  program.addCommand(useCommand(context));
  applyErrorHandling(program);
  return program;
}

/** Commander's own errors become our one-line usage errors (thrown by exitOverride), on every subcommand. */
function applyErrorHandling(command: Command): void {
  command.exitOverride().configureOutput({ outputError: () => {} });
  for (const sub of command.commands) applyErrorHandling(sub);
}

/** Commander signals help/version output and usage errors by throwing; sort them out. */
export function usageErrorFrom(error: unknown): CliError | "exit-ok" | undefined {
  if (!(error instanceof CommanderError)) return undefined;
  if (error.exitCode === 0 || error.code === "commander.helpDisplayed" || error.code === "commander.version") {
    return "exit-ok";
  }
  if (error.code === "commander.help") return "exit-ok";
  return new CliError("usage", `${error.message.replace(/^error: /, "")} (see --help)`);
}
