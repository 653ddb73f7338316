import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import {
  cassandraNodeStatus,
  defaultCassandraVersion,
  defaultNativePort,
  resolveCassandraJars,
  startCassandraNode,
  stopCassandraNode,
  type CassandraNodeStatus,
} from "@devenv/cassandra-node";
import { CliError } from "../errors.ts";
import { formatBytes } from "../progress-line.ts";
import type { CommandContext } from "../program.ts";
import { positiveInt } from "./options.ts";

interface NodeFlags {
  name: string;
  dataDir?: string;
  json?: boolean;
}
interface StartFlags extends NodeFlags {
  port?: number;
  address?: string;
  heap?: string;
  timeout: number;
}
interface StopFlags extends NodeFlags {
  timeout: number;
}

export function cassandraCommand(context: CommandContext): Command {
  const cassandra = new Command("cassandra").description("run a local Apache Cassandra 5.0 node (jars from Maven Central)");

  withNodeOptions(cassandra.command("start"))
    .description("start the node in the background and wait until CQL answers")
    .option("--port <port>", `CQL port (default ${defaultNativePort}, env DEVENV_CASSANDRA_PORT)`, positiveInt("--port", 65535))
    .option("--address <address>", "listen and CQL address (default 127.0.0.1, env DEVENV_CASSANDRA_ADDRESS)")
    .option("--heap <size>", "JVM heap, e.g. 512M or 2G (default 1G, env DEVENV_CASSANDRA_HEAP)", heapSize)
    .option("--timeout <seconds>", "give up when CQL does not answer in time", positiveInt("--timeout", 3600), 180)
    .action(async (flags: StartFlags) => {
      const output = context.output(flags.json);
      const { name, dataDir } = nodeLocation(context, flags);
      const env = context.env;
      const node = await startCassandraNode(
        {
          name,
          dataDir,
          nativePort: flags.port ?? envPort(env),
          listenAddress: flags.address ?? (env.DEVENV_CASSANDRA_ADDRESS || undefined),
          heap: flags.heap ?? envHeap(env),
          version: env.DEVENV_CASSANDRA_VERSION || undefined,
          cacheDir: context.config().cacheDir,
        },
        { deadlineMs: flags.timeout * 1000, env, onProgress: (message) => output.progress(message) },
      );
      output.progressDone();
      output.result({ ...node, state: "running" });
      if (!node.alreadyRunning) {
        output.line(`cassandra "${name}" running on ${node.contactPoint} (pid ${node.pid}, started in ${seconds(node.startupMs)})`);
      } else {
        // a running node keeps its settings; say so rather than silently ignore the flags
        const ignored = flags.port !== undefined && flags.port !== node.nativePort ? `; --port ${flags.port} ignored, stop it first to move it` : "";
        output.line(`cassandra "${name}" is already running on ${node.contactPoint} (pid ${node.pid}${ignored})`);
      }
    });

  withNodeOptions(cassandra.command("stop"))
    .description("stop the node (SIGTERM, then SIGKILL after the timeout)")
    .option("--timeout <seconds>", "wait this long for a clean shutdown", positiveInt("--timeout", 3600), 60)
    .action(async (flags: StopFlags) => {
      const output = context.output(flags.json);
      const { name, dataDir } = nodeLocation(context, flags);
      const stopped = await stopCassandraNode(dataDir, { deadlineMs: flags.timeout * 1000 });
      output.result({ name, dataDir, ...stopped });
      if (stopped.wasRunning) {
        const how = stopped.forced ? `killed after ${flags.timeout} s` : seconds(stopped.elapsedMs);
        output.line(`cassandra "${name}" stopped (pid ${stopped.pid}, ${how})`);
      } else if (stopped.stale) {
        output.line(`cassandra "${name}" was not running (removed the stale record of pid ${stopped.pid})`);
      } else {
        output.line(`cassandra "${name}" is not running`);
      }
    });

  withNodeOptions(cassandra.command("status"))
    .description("show whether the node is running and where")
    .action(async (flags: NodeFlags) => {
      const output = context.output(flags.json);
      const { name, dataDir } = nodeLocation(context, flags);
      const status = await cassandraNodeStatus(dataDir);
      output.result({ ...status, name });
      output.line(describeStatus(name, status));
    });

  cassandra
    .command("fetch")
    .description("download the Cassandra jars into the cache (once; `start` does it when needed)")
    .option("--json", "print the result as JSON")
    .action(async (flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const jars = await resolveCassandraJars({
        version: context.env.DEVENV_CASSANDRA_VERSION || defaultCassandraVersion,
        cacheDir: context.config().cacheDir,
        env: context.env,
        onProgress: (message) => output.progress(message),
      });
      output.progressDone();
      output.result(jars);
      const how = jars.downloaded ? `downloaded in ${seconds(jars.elapsedMs)}` : "already cached";
      output.line(`Cassandra ${jars.version}: ${jars.jars.length} jars in ${jars.libDir} (${how})`);
    });

  return cassandra;
}

function withNodeOptions(command: Command): Command {
  return command
    .option("--name <name>", "which local node", "dev")
    .option("--data-dir <dir>", "the node's files (default: <state-dir>/cassandra/<name>)")
    .option("--json", "print the result as JSON");
}

function nodeLocation(context: CommandContext, flags: NodeFlags): { name: string; dataDir: string } {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(flags.name)) {
    throw new CliError("usage", `invalid --name "${flags.name}": use letters, digits, dot, dash and underscore`);
  }
  return { name: flags.name, dataDir: flags.dataDir ?? join(context.config().stateDir, "cassandra", flags.name) };
}

function heapSize(value: string): string {
  if (!/^[1-9]\d*[MmGg]$/.test(value)) throw new InvalidArgumentError(`--heap must be a size like 512M or 2G, got "${value}"`);
  return value.toUpperCase();
}

function envPort(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.DEVENV_CASSANDRA_PORT;
  if (!raw) return undefined;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
    throw new CliError("config", `invalid DEVENV_CASSANDRA_PORT "${raw}": expected an integer from 1 to 65535`);
  }
  return port;
}

function envHeap(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.DEVENV_CASSANDRA_HEAP;
  if (!raw) return undefined;
  if (!/^[1-9]\d*[MmGg]$/.test(raw)) throw new CliError("config", `invalid DEVENV_CASSANDRA_HEAP "${raw}": expected a size like 512M or 2G`);
  return raw.toUpperCase();
}

function describeStatus(name: string, status: CassandraNodeStatus): string {
  const label = `cassandra "${name}"`;
  switch (status.state) {
    case "running": {
      const details = [`pid ${status.pid}`, `Cassandra ${status.releaseVersion}`];
      if (status.rssBytes !== undefined) details.push(`${formatBytes(status.rssBytes)} resident`);
      if (status.startedAt) details.push(`up ${duration(Date.now() - Date.parse(status.startedAt))}`);
      return `${label}: running on ${status.contactPoint} (${details.join(", ")})`;
    }
    case "starting":
      return `${label}: starting on ${status.contactPoint} (pid ${status.pid}, CQL not answering yet; log: ${status.logFile})`;
    case "stale":
      return `${label}: stopped (its pid ${status.pid} is gone; \`devenv cassandra start\` starts it again)`;
    case "stopped":
      return `${label}: stopped`;
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
