import { controlPlaneOptionsFrom, serveUntilSignalled, startControlPlane } from "@devenv/api";
import { loadConfig } from "./config.ts";

try {
  const config = loadConfig(process.env, process.argv.slice(2));
  await serveUntilSignalled(() => startControlPlane(controlPlaneOptionsFrom(config, process.env)));
} catch (error) {
  process.stderr.write(`devenv-control-plane: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
