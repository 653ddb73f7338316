import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, startCassandraNode, stopCassandraNode } from "@devenv/cassandra-node";
import type { Instance } from "@devenv/store";
import type { Provisioner, ProvisionResult } from "./provisioner.ts";

export interface LocalProvisionerOptions {
  /** Each instance gets `<instancesDir>/<instance id>/` for its Cassandra node, agent state and logs. */
  instancesDir: string;
  /** The agent's command line, e.g. [".../apps/agent/bin/devenv-agent"]. */
  agentCommand: readonly string[];
  /** The control plane's agent endpoint, e.g. ws://127.0.0.1:7070/agent (a function when known only once listening). */
  agentUrl: string | (() => string);
  /** Heap of each instance's Cassandra node (default 512M: several share one machine). */
  heap?: string;
  /** Where the Cassandra jars are cached. */
  cacheDir?: string;
  onProgress?: (instance: Instance, message: string) => void;
}

/**
 * The embedded default: an instance is an agent process on this machine with its
 * own Cassandra node. Both are detached, so a control-plane restart leaves running
 * instances running; `terminate` stops them and deletes the instance's files.
 */
export class LocalProvisioner implements Provisioner {
  readonly kind = "local" as const;
  readonly #options: LocalProvisionerOptions;

  constructor(options: LocalProvisionerOptions) {
    this.#options = options;
  }

  dirOf(instance: Pick<Instance, "id">): string {
    return join(this.#options.instancesDir, instance.id);
  }

  async provision(instance: Instance, joinToken: string): Promise<ProvisionResult> {
    const dir = this.dirOf(instance);
    mkdirSync(join(dir, "agent"), { recursive: true, mode: 0o700 });
    const progress = (message: string) => this.#options.onProgress?.(instance, message);
    const node = await startCassandraNode(
      { name: `devenv-${instance.id.slice(0, 8)}`, dataDir: join(dir, "cassandra"), nativePort: await freePort("127.0.0.1"), heap: this.#options.heap ?? "512M", cacheDir: this.#options.cacheDir },
      { deadlineMs: 240_000, onProgress: progress },
    );
    // the join token travels in a file readable by this user only, never on a command line
    const tokenFile = join(dir, "agent", "join-token");
    writeFileSync(tokenFile, `${joinToken}\n`, { mode: 0o600 });
    const [command, ...args] = this.#options.agentCommand;
    const log = openSync(join(dir, "agent.log"), "a");
    const agent = spawn(
      command!,
      [
        ...args,
        "--control-plane-url", typeof this.#options.agentUrl === "string" ? this.#options.agentUrl : this.#options.agentUrl(),
        "--join-token-file", tokenFile,
        "--state-dir", join(dir, "agent"),
        "--cassandra-contact-point", node.contactPoint,
        "--data-volume", dir,
        "--provider", "local",
        "--instance-id", instance.id,
      ],
      { detached: true, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    agent.unref();
    if (agent.pid === undefined) throw new Error(`cannot start the agent: ${command}`);
    writeFileSync(join(dir, "agent.pid"), String(agent.pid));
    progress(`agent started (pid ${agent.pid}), Cassandra on ${node.contactPoint}`);
    const [hostAddress, port] = node.contactPoint.split(":");
    return { providerId: `local:${agent.pid}`, hostAddress: hostAddress!, hostPort: Number(port) };
  }

  async terminate(instance: Instance): Promise<void> {
    const dir = this.dirOf(instance);
    if (!existsSync(dir)) return;
    const pidFile = join(dir, "agent.pid");
    if (existsSync(pidFile)) await stopProcess(Number(readFileSync(pidFile, "utf8")));
    await stopCassandraNode(join(dir, "cassandra"), { deadlineMs: 60_000 });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** SIGTERM (the agent says goodbye and checkpoints), then SIGKILL after a grace period. */
async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
