import { existsSync } from "node:fs";
import { createApiClient } from "@devenv/api/client";
import { Command } from "commander";
import { CliConfig, updateConfigFile } from "../config.ts";
import { CliError } from "../errors.ts";
import type { CommandContext } from "../program.ts";
import { callApi } from "./api-client.ts";

const loginExamples = `
The server URL and token are kept in the config file (~/.config/devenv/config.json, or
$XDG_CONFIG_HOME/devenv/config.json; --config or DEVENV_CONFIG name another), readable
by you only. DEVENV_SERVER and DEVENV_TOKEN override them for one run.

Examples:
  $ devenv login --server https://devenv.example.com --token dvt_…
  $ devenv login --server http://127.0.0.1:7070 --token "$(cat admin-token)" --json`;

export function loginCommand(context: CommandContext): Command {
  return new Command("login")
    .description("check a token with the control plane and keep it for every other command")
    .requiredOption("--server <url>", "the control plane's base URL, e.g. https://devenv.example.com")
    .requiredOption("--token <token>", "your API token (an admin makes one: auth.users.create or auth.tokens.create)")
    .option("--json", "print the result as JSON")
    .addHelpText("after", loginExamples)
    .action(async (flags: { server: string; token: string; json?: boolean }) => {
      const output = context.output(flags.json);
      const server = CliConfig.shape.server.safeParse(flags.server.replace(/\/+$/, ""));
      if (!server.success || server.data === undefined) throw new CliError("usage", `--server must be an http:// or https:// URL, got "${flags.server}"`);
      const token = flags.token.trim();
      if (token === "") throw new CliError("usage", "--token is empty");
      const client = createApiClient({ url: server.data, token });
      // nothing is written until the control plane has accepted the token
      const who = await callApi({ server: server.data }, () => client.auth.whoami.query());
      const file = context.configFile();
      updateConfigFile(file, { server: server.data, token });
      output.result({ server: server.data, user: who.user, configFile: file });
      output.line(`logged in to ${server.data} as ${who.user.name} (${who.user.role}); saved in ${file}`);
    });
}

export function logoutCommand(context: CommandContext): Command {
  return new Command("logout")
    .description("forget the control plane's URL and token (other settings stay)")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nThe token itself stays valid until revoked on the control plane.\n\nExamples:\n  $ devenv logout")
    .action((flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const file = context.configFile();
      const before = existsSync(file) ? updateConfigFile(file, { server: undefined, token: undefined }) : {};
      const wasLoggedIn = before.server !== undefined || before.token !== undefined;
      output.result({ wasLoggedIn, configFile: file });
      output.line(wasLoggedIn ? `logged out (removed the server and token from ${file})` : "not logged in");
    });
}
