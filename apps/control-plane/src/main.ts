import { fileURLToPath } from "node:url";
import { serveUntilSignalled, startControlPlane } from "@devenv/control-plane";
import { loadConfig } from "./config.ts";

try {
  const settings = loadConfig(process.env, process.argv.slice(2), (warning) => process.stderr.write(`devenv-control-plane: warning: ${warning}\n`));
  // instances on this machine run the agent from this checkout
  const agentCommand = [fileURLToPath(new URL("../../agent/bin/devenv-agent", import.meta.url))];
  await serveUntilSignalled(() => startControlPlane(settings, { agentCommand }));
} catch (error) {
  process.stderr.write(`devenv-control-plane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
