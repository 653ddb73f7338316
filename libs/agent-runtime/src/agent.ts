import { join } from "node:path";
import type { BackoffPolicy } from "@devenv/core";
import { protocolVersion } from "@devenv/protocol";
import type { AgentCommand, AgentHealth, AgentIdentity, HelloMessage, WelcomeMessage } from "@devenv/protocol";
import { connectCassandra } from "@devenv/snapshot";
import { AssignmentRunner } from "./assignments/assignment-runner.ts";
import type { AssignmentRunnerOptions } from "./assignments/assignment-runner.ts";
import { AssignmentState } from "./assignments/assignment-state.ts";
import { CqlCassandraProbe, collectHealth } from "./host/health-probe.ts";
import type { CassandraProbe } from "./host/health-probe.ts";
import { SpotWatcher } from "./host/spot-watcher.ts";
import type { SpotNotice } from "./host/spot-watcher.ts";
import { noopSystemdNotifier } from "./host/systemd-notifier.ts";
import type { SystemdNotifier } from "./host/systemd-notifier.ts";
import { CredentialFile } from "./identity/credential-file.ts";
import { resolveIdentity } from "./identity/identity.ts";
import type { IdentitySource } from "./identity/identity.ts";
import type { InstanceMetadata } from "./identity/instance-metadata.ts";
import type { AgentLogger } from "./logger.ts";
import { silentLogger } from "./logger.ts";
import { ControlPlaneSession } from "./session/control-plane-session.ts";
import { LifecycleTracker } from "./session/lifecycle.ts";
import { TunnelEndpoint } from "./tunnel/tunnel-endpoint.ts";

export interface AgentOptions {
  /** ws(s)://host/agent */
  controlPlaneUrl: string;
  /** Used once, while no credential is stored. */
  joinToken?: string;
  /** Holds the credential, the assignment state, the chunk cache and restore journals. */
  stateDir: string;
  cassandra: { contactPoint: string; localDataCenter?: string };
  /** A path on the volume that holds Cassandra's data: its free space is reported. */
  dataVolume: string;
  identity: IdentitySource;
  /** EC2 hosts: where the spot interruption notice is polled. */
  spotMetadata?: InstanceMetadata;
  spotPollIntervalMs?: number;
  agentVersion: string;
  systemd?: SystemdNotifier;
  /** How often health is checked between heartbeats (for the watchdog and degraded state); default 10 s. */
  healthCheckIntervalMs?: number;
  reconnectBackoff?: BackoffPolicy;
  restore?: AssignmentRunnerOptions["restoreOptions"];
  progressIntervalMs?: number;
  logger?: AgentLogger;
}

/**
 * The agent: identity, one control-plane session, assignments, health, spot notices,
 * systemd and the tunnel endpoint, sharing one lifecycle. start() returns once the
 * session loop runs; `finished` resolves when the agent has stopped (stop(), or the
 * control plane dismissed it).
 */
export class Agent {
  readonly lifecycle = new LifecycleTracker();
  readonly #options: AgentOptions;
  readonly #logger: AgentLogger;
  readonly #systemd: SystemdNotifier;
  readonly #credentials: CredentialFile;
  readonly #probe: CassandraProbe;
  readonly #finished = Promise.withResolvers<void>();
  #identity: AgentIdentity | undefined;
  #state: AssignmentState | undefined;
  #runner: AssignmentRunner | undefined;
  #session: ControlPlaneSession | undefined;
  #tunnel: TunnelEndpoint | undefined;
  #spot: SpotWatcher | undefined;
  #healthTimer: NodeJS.Timeout | undefined;
  #watchdogTimer: NodeJS.Timeout | undefined;
  #lastHealthyAt = 0;
  #readySent = false;
  #commands: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | undefined;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#systemd = options.systemd ?? noopSystemdNotifier;
    this.#credentials = new CredentialFile(options.stateDir);
    this.#probe = new CqlCassandraProbe({ contactPoint: options.cassandra.contactPoint, localDataCenter: options.cassandra.localDataCenter });
  }

  get finished(): Promise<void> {
    return this.#finished.promise;
  }

  get session(): ControlPlaneSession | undefined {
    return this.#session;
  }

  async start(): Promise<void> {
    this.lifecycle.onChange((state, detail) => {
      this.#systemd.status(detail ? `${state}: ${detail}` : state);
      this.#logger.info({ state, detail }, "lifecycle");
      this.#session?.flushLifecycle();
    });
    this.#systemd.status("booting");
    if (!this.#options.joinToken && (await this.#credentials.read()) === undefined) {
      throw new Error(`no credential in ${this.#credentials.path} and no join token: give a join token to register this host`);
    }
    this.#identity = await resolveIdentity(this.#options.identity);
    this.#logger.info({ identity: this.#identity }, "identity");
    const state = await AssignmentState.load(this.#options.stateDir);
    this.#state = state;
    this.lifecycle.moveTo("registering", `control plane ${this.#options.controlPlaneUrl}`);

    const session = new ControlPlaneSession({
      url: this.#options.controlPlaneUrl,
      hello: () => this.#hello(),
      lifecycle: this.lifecycle,
      health: () => this.#health(),
      backoff: this.#options.reconnectBackoff,
      logger: this.#logger,
      handlers: {
        onWelcome: (welcome) => this.#onWelcome(welcome),
        onCommand: (command) => {
          this.#commands = this.#commands.then(() => this.#onCommand(command)).catch((error: unknown) => {
            this.#logger.error({ err: error, type: command.type }, "handling a command failed");
          });
        },
        onTunnelData: (streamId, data) => this.#tunnel?.write(streamId, data),
        onDisconnected: () => this.#tunnel?.closeAll(),
        onDismissed: (reason) => {
          this.#logger.warn({ reason }, "the control plane dismissed this agent: stopping");
          void this.stop();
        },
      },
    });
    this.#session = session;
    const [host, port] = splitHostPort(this.#options.cassandra.contactPoint);
    this.#tunnel = new TunnelEndpoint({
      host,
      port,
      send: (streamId, data) => session.sendTunnelData(streamId, data),
      buffered: () => session.bufferedAmount,
      logger: this.#logger,
    });
    this.#runner = new AssignmentRunner({
      state,
      lifecycle: this.lifecycle,
      workDir: join(this.#options.stateDir, "restore"),
      connect: () => connectCassandra({ contactPoints: [this.#options.cassandra.contactPoint], localDataCenter: this.#options.cassandra.localDataCenter }),
      sendProgress: (progress) => session.send(progress),
      sendResult: (result) => session.sendReliably(result),
      restoreOptions: this.#options.restore,
      progressIntervalMs: this.#options.progressIntervalMs,
      logger: this.#logger,
    });
    // an assignment a crash interrupted continues now, connected or not
    this.#runner.resume();
    session.start();
    if (this.#options.spotMetadata) {
      this.#spot = new SpotWatcher({
        metadata: this.#options.spotMetadata,
        intervalMs: this.#options.spotPollIntervalMs,
        onNotice: (notice) => this.#onSpotNotice(notice),
        logger: this.#logger,
      });
      this.#spot.start();
    }
    this.#startHealthChecks();
  }

  /**
   * Graceful stop: the running restore is checkpointed (its journal keeps what is
   * loaded; it resumes at the next start), the control plane is told `draining` then
   * `stopped`, and the socket closes normally.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#systemd.stopping();
      this.lifecycle.moveTo("draining", "shutting down");
      this.#spot?.stop();
      clearInterval(this.#healthTimer);
      clearInterval(this.#watchdogTimer);
      await this.#runner?.stop();
      this.#tunnel?.closeAll();
      this.lifecycle.moveTo("stopped");
      await this.#session?.stop();
      await this.#probe.close();
      this.#finished.resolve();
    })();
    return this.#stopping;
  }

  async #hello(): Promise<HelloMessage> {
    const credential = await this.#credentials.read();
    const auth = credential ? { credential } : { joinToken: this.#options.joinToken ?? "" };
    if (!credential && !this.#options.joinToken) throw new Error("no credential stored and no join token given");
    return { type: "hello", protocolVersion, agentVersion: this.#options.agentVersion, identity: this.#identity!, auth };
  }

  async #onWelcome(welcome: WelcomeMessage): Promise<void> {
    if (welcome.credential) {
      await this.#credentials.write(welcome.credential);
      this.#logger.info({ agentId: welcome.agentId, path: this.#credentials.path }, "registered: credential stored");
    } else if ((await this.#credentials.read()) === undefined) {
      throw new Error("welcome carried no credential for a join-token hello: cannot reconnect later");
    }
    this.#settle();
    if (!this.#readySent) {
      this.#readySent = true;
      // READY once registered and the first health check has run; commands need not wait for it
      void this.#health()
        .then((health) => {
          this.#systemd.ready();
          this.#logger.info({ cassandra: health.cassandra }, "ready");
          this.#startWatchdog();
        })
        .catch((error: unknown) => {
          this.#readySent = false;
          this.#logger.warn({ err: error }, "first health check failed; READY waits for the next session");
        });
    }
  }

  /** After registration: idle, or ready with the snapshot already restored here. */
  #settle(): void {
    if (this.#runner?.current) return;
    this.lifecycle.moveTo(this.#state?.currentSnapshotId ? "ready" : "idle");
  }

  async #onCommand(command: AgentCommand): Promise<void> {
    const session = this.#session!;
    switch (command.type) {
      case "assign":
        await this.#runner!.assign(command);
        break;
      case "cancel":
        await this.#runner!.cancel(command);
        break;
      case "tunnel-open":
        this.#tunnel!.open(command.streamId);
        break;
      case "tunnel-close":
        this.#tunnel!.close(command.streamId);
        break;
    }
    session.send({ type: "ack", commandId: command.commandId });
  }

  #onSpotNotice(notice: SpotNotice): void {
    this.#logger.warn({ action: notice.action, deadline: notice.deadline }, "spot interruption notice");
    this.#session?.sendReliably({ type: "interruption", deadline: notice.deadline });
    this.lifecycle.moveTo("interrupting", `spot ${notice.action} at ${notice.deadline}`);
  }

  async #health(): Promise<AgentHealth> {
    const health = await collectHealth(this.#probe, this.#options.dataVolume, {
      currentSnapshotId: this.#state?.currentSnapshotId,
      lastRestore: this.#state?.lastRestore,
    });
    this.#lastHealthyAt = Date.now();
    this.#judge(health);
    return health;
  }

  /** Cassandra down makes a settled agent `degraded`; back up, it returns to where it was. */
  #judge(health: AgentHealth): void {
    const state = this.lifecycle.state;
    if (!health.cassandra.reachable && (state === "idle" || state === "ready")) {
      this.lifecycle.moveTo("degraded", "cassandra unreachable");
    } else if (health.cassandra.reachable && state === "degraded" && this.lifecycle.detail === "cassandra unreachable") {
      this.lifecycle.moveTo(this.#state?.currentSnapshotId ? "ready" : "idle", "cassandra reachable again");
    }
  }

  #startHealthChecks(): void {
    const watchdogMs = this.#systemd.watchdogIntervalMs;
    const interval = Math.min(this.#options.healthCheckIntervalMs ?? 10_000, watchdogMs ? watchdogMs / 2 : Infinity);
    this.#healthTimer = setInterval(() => {
      this.#health().catch((error: unknown) => this.#logger.warn({ err: error }, "health check failed"));
    }, interval);
  }

  /** WATCHDOG=1 at half the period, only while health checks keep completing (the agent is not wedged). */
  #startWatchdog(): void {
    const watchdogMs = this.#systemd.watchdogIntervalMs;
    if (watchdogMs === undefined) return;
    this.#watchdogTimer = setInterval(() => {
      if (Date.now() - this.#lastHealthyAt < watchdogMs) this.#systemd.watchdog();
    }, watchdogMs / 2);
  }
}

function splitHostPort(contactPoint: string): [string, number] {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(contactPoint);
  if (!match) throw new Error(`invalid Cassandra contact point ${JSON.stringify(contactPoint)}: expected HOST:PORT`);
  return [match[1]!.replace(/^\[|\]$/g, ""), match[2] ? Number(match[2]) : 9042];
}
