import { Command, CommanderError } from "commander";
import { configFilePath, loadConfig, type CliConfig } from "./config.ts";
import { CliError } from "./errors.ts";
import { createOutput, type Output } from "./output.ts";

/** What every command receives: resolved config and where to write. */
export interface CommandContext {
  config(): CliConfig;
  /** The config file this run reads and `devenv login` writes. */
  configFile(): string;
  output(json?: boolean): Output;
  /** The environment the program was created with (commands read DEVENV_* from it, never process.env). */
  env: NodeJS.ProcessEnv;
}

/**
 * Top-level commands and the modules that build them. A run imports only the module of
 * the command it names: the libraries behind the others (AWS SDK, drivers) cost start-up
 * time and resident memory that a long restore would carry to the end.
 */
const commandModules: { names: readonly string[]; load: (context: CommandContext) => Promise<Command[]> }[] = [
  { names: ["cassandra"], load: async (c) => [(await import("./commands/cassandra.ts")).cassandraCommand(c)] },
  { names: ["snapshot"], load: async (c) => [(await import("./commands/snapshot.ts")).snapshotCommand(c)] },
  { names: ["shrink"], load: async (c) => [(await import("./commands/shrink.ts")).shrinkCommand(c)] },
  { names: ["generate"], load: async (c) => [(await import("./commands/generate.ts")).generateCommand(c)] },
  { names: ["server"], load: async (c) => [(await import("./commands/server.ts")).serverCommand(c)] },
  { names: ["demo"], load: async (c) => [(await import("./commands/demo.ts")).demoCommand(c)] },
  {
    names: ["forward", "use"],
    load: async (c) => {
      const { forwardCommand, useCommand } = await import("./commands/forward.ts");
      // named targets (shared, mine, an instance id) are looked up on the control plane
      const { apiRouteResolver } = await import("./commands/api-client.ts");
      return [forwardCommand(c), useCommand(c, { resolveName: apiRouteResolver(c) })];
    },
  },
  {
    names: ["login", "logout"],
    load: async (c) => {
      const { loginCommand, logoutCommand } = await import("./commands/login.ts");
      return [loginCommand(c), logoutCommand(c)];
    },
  },
  { names: ["up"], load: async (c) => [(await import("./commands/up.ts")).upCommand(c)] },
  { names: ["down"], load: async (c) => [(await import("./commands/down.ts")).downCommand(c)] },
  { names: ["status"], load: async (c) => [(await import("./commands/status.ts")).statusCommand(c)] },
  { names: ["ls"], load: async (c) => [(await import("./commands/ls.ts")).lsCommand(c)] },
  { names: ["snapshots"], load: async (c) => [(await import("./commands/snapshots.ts")).snapshotsCommand(c)] },
  { names: ["refresh"], load: async (c) => [(await import("./commands/refresh.ts")).refreshCommand(c)] },
  { names: ["jobs"], load: async (c) => [(await import("./commands/jobs.ts")).jobsCommand(c)] },
  { names: ["fleet"], load: async (c) => [(await import("./commands/fleet.ts")).fleetCommand(c)] },
  { names: ["completion"], load: async (c) => [(await import("./commands/completion.ts")).completionCommand(c)] },
];

/** `argv` as process.argv: the command it names decides which command modules load (all of them for help or anything else). */
export async function createProgram(env: NodeJS.ProcessEnv, argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command("devenv")
    .description("Production-shaped, PII-free Cassandra databases for every developer")
    .version(process.env.npm_package_version ?? "0.1.0", "-V, --version")
    .option("--config <file>", "config file (default: ~/.config/devenv/config.json, env DEVENV_CONFIG)")
    .option("--cache-dir <dir>", "where downloads are kept (env DEVENV_CACHE_DIR)")
    .option("--state-dir <dir>", "where local state is kept (env DEVENV_STATE_DIR)")
    // global options go before the command, so a command may have an option of the same
    // name (`devenv server --config server.yaml` is the server's file, not the client's)
    .enablePositionalOptions();

  const context: CommandContext = {
    config: () => {
      const flags = program.opts<{ config?: string; cacheDir?: string; stateDir?: string }>();
      return loadConfig({ env, flags });
    },
    configFile: () => configFilePath({ env, flags: program.opts<{ config?: string }>() }),
    output: (json = false) => createOutput({ json }),
    env,
  };

  const named = commandNameIn(argv.slice(2));
  const only = commandModules.filter((m) => named !== undefined && m.names.includes(named));
  for (const module of only.length > 0 ? only : commandModules) {
    for (const command of await module.load(context)) program.addCommand(command);
  }
  applyErrorHandling(program);
  return program;
}

/** The global options that take a value; the word after one is its value, not a command. */
const globalValuedOptions = ["--config", "--cache-dir", "--state-dir"];

/** The command `args` name: the first word that is neither an option nor a global option's value. */
function commandNameIn(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (globalValuedOptions.includes(arg)) i++;
    else if (!arg.startsWith("-")) return arg;
  }
  return undefined;
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
  const flag = error.code === "commander.unknownOption" ? /'(--[^'=]+)/.exec(error.message)?.[1] : undefined;
  if (flag !== undefined && [...globalValuedOptions, "--version"].includes(flag)) {
    return new CliError("usage", `unknown option '${flag}' for this command; ${flag} is a global option: give it before the command (devenv ${flag} … COMMAND)`);
  }
  return new CliError("usage", `${error.message.replace(/^error: /, "")} (see --help)`);
}
