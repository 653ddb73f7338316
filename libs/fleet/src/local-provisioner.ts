import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, startCassandraNode, stopCassandraNode } from "@devenv/cassandra-node";
import type { Instance, InstanceKind } from "@devenv/store";
import { isProcessOf, stopProcessOf } from "./local-agent-process.ts";
import type { Provisioner, ProvisionResult } from "./provisioner.ts";

export interface LocalProvisionerOptions {
  /** Each instance gets `<instancesDir>/<instance id>/` for its Cassandra node, agent state and logs. */
  instancesDir: string;
  /** The agent's command line, e.g. [".../apps/agent/bin/devenv-agent"]. */
  agentCommand: readonly string[];
  /** The control plane's agent endpoint, e.g. ws://127.0.0.1:7070/agent (a function when known only once listening). */
  agentUrl: string | (() => string);
  /** Heap of each instance's Cassandra node, or one per kind of instance (default 512M: several share one machine). */
  heap?: string | Partial<Record<InstanceKind, string>>;
  /** Where the Cassandra jars are cached. */
  cacheDir?: string;
  onProgress?: (instance: Instance, message: string) => void;
}

/** What a restart of an instance's agent needs that only provisioning learned. */
interface AgentLaunch {
  contactPoint: string;
}

/** What is known of an instance's agent process from its files and the process table. */
export type LocalAgentStatus =
  | { state: "not-launched" }
  | { state: "running"; pid: number }
  | { state: "exited"; pid: number }
  /** `terminate` has begun: the agent is meant to be gone. */
  | { state: "terminating" };

/**
 * The embedded default: an instance is an agent process on this machine with its
 * own Cassandra node. Both are detached, so a control-plane restart leaves running
 * instances running; `terminate` stops them and deletes the instance's files.
 *
 * Files of an instance, in `dirOf(instance)`: `agent/` (the agent's state dir: its
 * credential, assignments and restore journal), `agent.pid`, `agent-launch.json`,
 * `agent-restarts.json`, `agent.log`, `cassandra/`, and `terminating` once `terminate`
 * began. A supervisor (LocalAgentSupervisor) restarts an agent that died from these.
 */
export class LocalProvisioner implements Provisioner {
  readonly kind = "local" as const;
  readonly #options: LocalProvisionerOptions;
  // launches and terminations of one instance never overlap
  readonly #locks = new Map<string, Promise<unknown>>();

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
      { name: `devenv-${instance.id.slice(0, 8)}`, dataDir: join(dir, "cassandra"), nativePort: await freePort("127.0.0.1"), heap: this.#heapOf(instance), cacheDir: this.#options.cacheDir },
      { deadlineMs: 240_000, onProgress: progress },
    );
    // the join token travels in a file readable by this user only, never on a command line
    writeFileSync(join(dir, "agent", "join-token"), `${joinToken}\n`, { mode: 0o600 });
    const pid = await this.launchAgent(instance, node.contactPoint);
    progress(`agent started (pid ${pid}), Cassandra on ${node.contactPoint}`);
    const [hostAddress, port] = node.contactPoint.split(":");
    return { providerId: `local:${pid}`, hostAddress: hostAddress!, hostPort: Number(port) };
  }

  /**
   * Starts the instance's agent against the Cassandra node at `contactPoint` and records
   * what starting it again needs. The join token file must be in place (provision writes it).
   */
  async launchAgent(instance: Pick<Instance, "id">, contactPoint: string): Promise<number> {
    return this.#exclusive(instance.id, async () => {
      const dir = this.dirOf(instance);
      mkdirSync(join(dir, "agent"), { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, "agent-launch.json"), `${JSON.stringify({ contactPoint } satisfies AgentLaunch)}\n`);
      return this.#spawnAgent(instance, { contactPoint });
    });
  }

  /** Whether the instance's agent runs, from the pid it was last started with. */
  agentStatus(instance: Pick<Instance, "id">): LocalAgentStatus {
    const dir = this.dirOf(instance);
    if (existsSync(join(dir, "terminating"))) return { state: "terminating" };
    const pid = this.#recordedPid(dir);
    if (pid === undefined) return { state: "not-launched" };
    return isProcessOf(pid, join(dir, "agent")) ? { state: "running", pid } : { state: "exited", pid };
  }

  /** When the agent was restarted after exiting (epoch ms, oldest first); kept across control-plane restarts. */
  agentRestarts(instance: Pick<Instance, "id">): number[] {
    const file = join(this.dirOf(instance), "agent-restarts.json");
    if (!existsSync(file)) return [];
    const at: unknown = (JSON.parse(readFileSync(file, "utf8")) as { at?: unknown }).at;
    return Array.isArray(at) ? at.filter((t): t is number => typeof t === "number") : [];
  }

  /**
   * Starts the agent again with the same state dir (its credential, assignments and
   * restore journal are there, so it reconnects and resumes) and records the restart.
   * Returns undefined, starting nothing, when the agent runs or the instance is being
   * terminated; `keepLast` restarts are remembered.
   */
  async restartAgent(instance: Pick<Instance, "id">, options: { now?: number; keepLast?: number } = {}): Promise<{ pid: number; previousPid: number } | undefined> {
    return this.#exclusive(instance.id, async () => {
      const status = this.agentStatus(instance);
      if (status.state !== "exited") return undefined;
      const dir = this.dirOf(instance);
      const launchFile = join(dir, "agent-launch.json");
      if (!existsSync(launchFile)) throw new Error(`cannot restart the agent of instance ${instance.id}: ${launchFile} is missing`);
      const launch = JSON.parse(readFileSync(launchFile, "utf8")) as Partial<AgentLaunch>;
      if (typeof launch.contactPoint !== "string") throw new Error(`cannot restart the agent of instance ${instance.id}: ${launchFile} names no contact point`);
      const restarts = [...this.agentRestarts(instance), options.now ?? Date.now()].slice(-(options.keepLast ?? 20));
      writeFileSync(join(dir, "agent-restarts.json"), `${JSON.stringify({ at: restarts })}\n`);
      const pid = this.#spawnAgent(instance, { contactPoint: launch.contactPoint });
      return { pid, previousPid: status.pid };
    });
  }

  async terminate(instance: Instance): Promise<void> {
    const dir = this.dirOf(instance);
    if (!existsSync(dir)) return;
    await this.#exclusive(instance.id, async () => {
      // first, so that nothing starts the agent again while it is being stopped
      writeFileSync(join(dir, "terminating"), `${new Date().toISOString()}\n`);
      const pid = this.#recordedPid(dir);
      if (pid !== undefined) await stopProcessOf(pid, join(dir, "agent"));
      await stopCassandraNode(join(dir, "cassandra"), { deadlineMs: 60_000 });
      rmSync(dir, { recursive: true, force: true });
    });
  }

  #spawnAgent(instance: Pick<Instance, "id">, launch: AgentLaunch): number {
    const dir = this.dirOf(instance);
    const agentUrl = typeof this.#options.agentUrl === "string" ? this.#options.agentUrl : this.#options.agentUrl();
    if (agentUrl === "") throw new Error("the control plane's agent URL is not known yet (the server is not listening)");
    const [command, ...args] = this.#options.agentCommand;
    const log = openSync(join(dir, "agent.log"), "a");
    const agent = spawn(
      command!,
      [
        ...args,
        "--control-plane-url", agentUrl,
        "--join-token-file", join(dir, "agent", "join-token"),
        "--state-dir", join(dir, "agent"),
        "--cassandra-contact-point", launch.contactPoint,
        "--data-volume", dir,
        "--provider", "local",
        "--instance-id", instance.id,
      ],
      { detached: true, stdio: ["ignore", log, log] },
    );
    closeSync(log);
    // a command that cannot be run leaves the pid unset (thrown below); the event must not go unheard
    agent.once("error", () => {});
    agent.unref();
    if (agent.pid === undefined) throw new Error(`cannot start the agent: ${command}`);
    writeFileSync(join(dir, "agent.pid"), String(agent.pid));
    return agent.pid;
  }

  #heapOf(instance: Pick<Instance, "kind">): string {
    const heap = this.#options.heap;
    return (typeof heap === "string" ? heap : heap?.[instance.kind]) ?? "512M";
  }

  #recordedPid(dir: string): number | undefined {
    const file = join(dir, "agent.pid");
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  #exclusive<T>(instanceId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(instanceId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    const tail = next.catch(() => {});
    this.#locks.set(instanceId, tail);
    void tail.then(() => {
      if (this.#locks.get(instanceId) === tail) this.#locks.delete(instanceId);
    });
    return next;
  }
}
