import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import { join, resolve } from "node:path";
import { LocalAgentSupervisor, LocalProvisioner, FleetMaintenanceLoop, type AgentSupervisorEvent, type Provisioners } from "@devenv/fleet";
import { AgentHub, ClientTunnelRelay, StoreCommandBus, StoreHubBackend, type TunnelAuthorization } from "@devenv/hub";
import { JobRunner, refreshJobHandler, Scheduler, shrinkJobHandlers } from "@devenv/jobs";
import type { Instance, Store, User } from "@devenv/store";
import type { InstanceService } from "../instances/instance-service.ts";
import { slackSettingsFromEnv } from "../slack/slack-routes.ts";
import { opsRoutes } from "../web/ops-routes.ts";
import { startControlPlane, type ControlPlaneOptions, type RunningControlPlane } from "./control-plane.ts";

export interface DevenvServerOptions extends ControlPlaneOptions {
  /**
   * How to start an agent on this machine (the local provisioner, the embedded default):
   * e.g. ["<repo>/apps/agent/bin/devenv-agent"]. Without it, and without `provisioner`,
   * instances cannot be started here.
   */
  agentCommand?: readonly string[];
  /** Heap of each local instance's Cassandra node (default 512M). */
  instanceHeap?: string;
  /** Jobs run at once by this replica (default 1: a shrink is heavy). */
  jobConcurrency?: number;
  /** Shrink tasks (token-range parts) run at once by this replica, besides the jobs (default 2). */
  taskConcurrency?: number;
  /** How often an idle job runner looks for work (jobs, other replicas' tasks); default 1 s. */
  jobPollMs?: number;
  /** Local instances' agents that died are noticed within this and started again; default 2 s, 0 turns it off. */
  agentSupervisionIntervalMs?: number;
  /** Fleet maintenance (timeouts, reaper) every this often; default 60 s, 0 turns it off. */
  maintenanceIntervalMs?: number;
  /** Due schedules are checked this often; default 15 s. */
  schedulerIntervalMs?: number;
  /** Agents' heartbeat interval; default 10 s. */
  heartbeatIntervalMs?: number;
  /** How long a refresh waits for one instance's restore; default 2 h. */
  rolloutTimeoutMs?: number;
  /** Env for the jobs (the rules' pseudonym secret); default process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningDevenvServer extends RunningControlPlane {
  hub: AgentHub;
  jobs: JobRunner;
  scheduler: Scheduler;
}

/**
 * The whole control plane on one process: the API, the agent hub and its database
 * tunnels, the job runner (shrinks, refreshes), the nightly scheduler and fleet
 * maintenance, with the local provisioner unless another is given.
 */
export async function startDevenvServer(options: DevenvServerOptions): Promise<RunningDevenvServer> {
  let agentUrl = "";
  const provisioner =
    options.provisioner ??
    (options.agentCommand
      ? new LocalProvisioner({
          instancesDir: join(resolve(options.dataDir), "instances"),
          agentCommand: options.agentCommand,
          agentUrl: () => agentUrl,
          heap: options.instanceHeap,
        })
      : undefined);
  let parts: { hub: AgentHub; jobs: JobRunner; scheduler: Scheduler } | undefined;
  let supervisor: LocalAgentSupervisor | undefined;

  const running = await startControlPlane({
    ...options,
    provisioner,
    // the fleet page, and Slack when DEVENV_SLACK_SIGNING_SECRET is set
    extraRoutes: options.extraRoutes ?? ((context) => opsRoutes(context, { slack: slackSettingsFromEnv(options.env ?? process.env) })),
    attach: async (server, context) => {
      const { store, instances, logger, clock, blobs } = context;
      const bus = new StoreCommandBus({ store, logger });
      const backend = new StoreHubBackend({
        store,
        onInterruption: (instance) => void replaceInterrupted(store, instances, instance).catch((error: unknown) => logger.error({ err: error, instanceId: instance.id }, "spot replacement failed")),
        onError: (what, error) => logger.error({ err: error }, what),
      });
      const hub = new AgentHub({ server, backend, bus, heartbeatIntervalMs: options.heartbeatIntervalMs, logger });
      await hub.start();
      // an agent that (re)connects gets the assignment that waited for it
      hub.on("agent-connected", ({ agentId }) => {
        void store.agents
          .get(agentId)
          .then((agent) => instances.dispatchPending(agent.instanceId))
          .catch((error: unknown) => logger.error({ err: error, agentId }, "dispatching a waiting assignment failed"));
      });
      const relay = new ClientTunnelRelay({ server, hub, authorize: (request, instanceId) => authorizeTunnel(store, hub, request, instanceId) });
      relay.start();

      const system = await systemUser(store);
      const jobs = new JobRunner({
        store,
        concurrency: options.jobConcurrency ?? 1,
        taskConcurrency: options.taskConcurrency ?? 2,
        pollMs: options.jobPollMs,
        handlers: {
          ...shrinkJobHandlers({ store, blobs, env: options.env }),
          refresh: refreshJobHandler({
            store,
            blobs,
            env: options.env,
            rollOut: (instanceId, snapshotId, signal) => rollOut(store, instances, system, instanceId, snapshotId, signal, options.rolloutTimeoutMs ?? 2 * 3_600_000),
          }),
        },
        onError: (error) => logger.error({ err: error }, "job runner"),
      });
      jobs.start();
      const scheduler = new Scheduler({ store, clock, onFired: (schedule, jobId) => {
        logger.info({ schedule: schedule.name, jobId }, "schedule fired");
        jobs.poke();
      } });
      scheduler.start(options.schedulerIntervalMs ?? 15_000, (error) => logger.error({ err: error }, "scheduler"));
      const provisioners: Provisioners = provisioner ? { [provisioner.kind]: provisioner } : {};
      const maintenanceMs = options.maintenanceIntervalMs ?? 60_000;
      const maintenance =
        maintenanceMs > 0
          ? new FleetMaintenanceLoop({
              store,
              clock,
              provisioners,
              intervalMs: maintenanceMs,
              reaper: { warn: (instance, reason, at) => logger.warn({ instanceId: instance.id, ownerId: instance.ownerId, reason, at }, "instance will be reaped") },
              onReport: (report) => {
                for (const error of report.errors) logger.error({ pass: error.pass }, error.message);
              },
            })
          : undefined;
      maintenance?.start();
      // local agents are detached like systemd services; this restarts the ones that die (started once listening)
      const supervisionMs = options.agentSupervisionIntervalMs ?? 2_000;
      if (provisioner instanceof LocalProvisioner && supervisionMs > 0) {
        supervisor = new LocalAgentSupervisor({ provisioner, store, intervalMs: supervisionMs, onEvent: (event) => logSupervision(logger, event) });
      }
      parts = { hub, jobs, scheduler };
      return {
        commands: hub,
        liveness: (agentId) => hub.liveness(agentId),
        close: async () => {
          await supervisor?.stop();
          scheduler.stop();
          await maintenance?.stop();
          await jobs.stop();
          relay.close();
          await hub.close();
          await bus?.close();
        },
      };
    },
  });
  agentUrl = `${running.url.replace(/^http/, "ws")}/agent`;
  supervisor?.start();
  return { ...running, ...parts! };
}

function logSupervision(logger: Logger, event: AgentSupervisorEvent): void {
  switch (event.kind) {
    case "exited":
      logger.warn({ instanceId: event.instanceId, pid: event.pid, restartInMs: event.restartInMs }, "a local agent exited; restarting it");
      return;
    case "restarted":
      logger.warn({ instanceId: event.instanceId, pid: event.pid, previousPid: event.previousPid, restartsInWindow: event.restartsInWindow }, "local agent restarted");
      return;
    case "gave-up":
      logger.error({ instanceId: event.instanceId, pid: event.pid, restartsInWindow: event.restartsInWindow }, "a local agent keeps exiting: not restarted again, instance failed");
      return;
    case "error":
      logger.error({ instanceId: event.instanceId, error: event.error }, "supervising local agents failed");
      return;
  }
}

/** The actor scheduled and automatic work is recorded under. */
async function systemUser(store: Store): Promise<User> {
  const existing = await store.users.findByName("devenv-system");
  if (existing) return existing;
  try {
    return await store.users.create({ name: "devenv-system", role: "admin" });
  } catch {
    // another replica created it first
    return (await store.users.findByName("devenv-system"))!;
  }
}

/** Who may open a database tunnel: the owner of a personal instance, anyone for a shared one, ops and admin for all. */
async function authorizeTunnel(store: Store, hub: AgentHub, request: IncomingMessage, target: string): Promise<TunnelAuthorization> {
  const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
  const user = token ? await store.tokens.authenticate(token) : null;
  if (!user) return { ok: false, status: 401, message: "a valid API token is required (devenv login)" };
  const instance = await resolveInstance(store, user, target);
  const visible = instance && (instance.kind === "shared" || instance.ownerId === user.id || user.role !== "developer");
  if (!instance || !visible) return { ok: false, status: 404, message: `no instance ${target} for you` };
  if (instance.state !== "ready" && instance.state !== "refreshing") return { ok: false, status: 409, message: `instance ${instance.id} is ${instance.state}, not ready` };
  const agents = await store.agents.list({ instanceId: instance.id });
  const agent = agents.find((a) => hub.liveness(a.id) === "healthy") ?? agents[0];
  if (!agent) return { ok: false, status: 503, message: `instance ${instance.id} has no agent connected` };
  return { ok: true, agentId: agent.id };
}

/** `mine` and `shared` follow replacements: new connections reach whatever instance is current. */
async function resolveInstance(store: Store, user: User, target: string): Promise<Instance | undefined> {
  if (target === "mine" || target === "shared") {
    const candidates = await store.instances.list({ kind: target === "mine" ? "personal" : "shared", states: ["ready", "refreshing"], ...(target === "mine" ? { ownerId: user.id } : {}) });
    return candidates.sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
  }
  return store.instances.find(target);
}

/** Assigns the snapshot and waits until the instance's agent reports the restore done. */
async function rollOut(store: Store, instances: InstanceService, actor: User, instanceId: string, snapshotId: string, signal: AbortSignal, timeoutMs: number): Promise<void> {
  const instance = await store.instances.get(instanceId);
  // a retried refresh finds the restore its first attempt started: it waits for that one
  const latest = await store.assignments.latestForInstance(instanceId);
  const inFlight = latest?.snapshotId === snapshotId && ["pending", "sent", "running", "succeeded"].includes(latest.state) ? latest : undefined;
  const assignment = inFlight ?? (await instances.assign(actor, instance, snapshotId)).assignment;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const current = await store.assignments.get(assignment.id);
    if (current.state === "succeeded") return;
    if (current.state === "failed" || current.state === "cancelled") throw new Error(current.error ?? `assignment ${current.state}`);
    if (Date.now() > deadline) throw new Error(`no restore result within ${Math.round(timeoutMs / 60_000)} min`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

/**
 * A spot host got its two-minute notice: start a replacement for the same owner with the
 * same snapshot; `mine` tunnels move to it once it is ready, and the old one is ended.
 */
async function replaceInterrupted(store: Store, instances: InstanceService, instance: Instance): Promise<void> {
  if (instance.kind !== "personal" || instance.state === "draining" || instance.state === "terminated") return;
  const owner = await store.users.get(instance.ownerId);
  const snapshotId = instance.currentSnapshotId ?? instance.snapshotId ?? undefined;
  const ttlHours = instance.ttlExpiresAt ? Math.max(1, Math.ceil((Date.parse(instance.ttlExpiresAt) - Date.now()) / 3_600_000)) : undefined;
  const { instance: replacement } = await instances.up(owner, { kind: "personal", snapshotId, ttlHours });
  await store.audit.record({ actor: "devenv-system", action: "instance.replace", subject: `instance:${instance.id}`, detail: { replacement: replacement.id } });
  const deadline = Date.now() + 30 * 60_000;
  while (Date.now() < deadline) {
    const state = (await store.instances.get(replacement.id)).state;
    if (state === "ready") break;
    if (state === "failed" || state === "terminated") return;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  await instances.down(await systemUser(store), await store.instances.get(instance.id));
}
