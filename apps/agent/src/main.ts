import { hostname } from "node:os";
import { Agent, InstanceMetadata, jsonLogger, systemdNotifier } from "@devenv/agent-runtime";
import type { IdentitySource } from "@devenv/agent-runtime";
import { ConfigError } from "@devenv/core";
import { loadConfig } from "./config.ts";
import packageJson from "../package.json" with { type: "json" };

const logger = jsonLogger();
let config;
try {
  config = loadConfig(process.env, process.argv.slice(2));
} catch (error) {
  process.stderr.write(`devenv-agent: ${(error as Error).message}\n`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}

const metadata = config.provider === "ec2" ? new InstanceMetadata({ endpoint: config.metadataEndpoint }) : undefined;
const identity: IdentitySource = metadata
  ? { provider: "ec2", metadata }
  : { provider: config.provider === "ec2" ? "static" : config.provider, instanceId: config.instanceId, instanceType: config.instanceType, region: config.region, zone: config.zone, hostname: hostname() };

const agent = new Agent({
  controlPlaneUrl: config.controlPlaneUrl,
  joinToken: config.joinToken,
  stateDir: config.stateDir,
  cassandra: { contactPoint: config.cassandraContactPoint, localDataCenter: config.cassandraDataCenter },
  dataVolume: config.dataVolume,
  identity,
  spotMetadata: metadata,
  spotPollIntervalMs: config.spotPollIntervalMs,
  agentVersion: packageJson.version,
  systemd: systemdNotifier(),
  restore: { loadPath: config.loadPath, chunkConcurrency: config.restoreChunkConcurrency },
  logger,
});

let signals = 0;
const onSignal = (signal: NodeJS.Signals) => {
  signals += 1;
  if (signals > 1) {
    logger.warn({ signal }, "second signal: exiting now");
    process.exit(1);
  }
  logger.info({ signal }, "stopping");
  void agent.stop();
};
process.on("SIGTERM", onSignal);
process.on("SIGINT", onSignal);

try {
  await agent.start();
} catch (error) {
  logger.error({ err: error }, "agent failed to start");
  process.exit(1);
}
await agent.finished;
logger.info({}, "stopped");
process.exit(0);
