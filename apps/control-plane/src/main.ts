import { fileURLToPath } from "node:url";
import { controlPlaneOptionsFrom, serveUntilSignalled, startDevenvServer } from "@devenv/api";
import { loadConfig } from "./config.ts";

try {
  const config = loadConfig(process.env, process.argv.slice(2));
  // instances on this machine run the agent from this checkout
  const agentCommand = [fileURLToPath(new URL("../../agent/bin/devenv-agent", import.meta.url))];
  await serveUntilSignalled(() => startDevenvServer({ ...controlPlaneOptionsFrom(config, process.env), agentCommand }));
} catch (error) {
  process.stderr.write(`devenv-control-plane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
