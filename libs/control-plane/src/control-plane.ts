import { join } from "node:path";
import { pino, type Logger } from "pino";
import { createApiRouter, loadSigningKey, opsRoutes, UrlSigner, type OpsRoutesOptions } from "@devenv/api";
import { resolveSecret, systemClock, type Clock } from "@devenv/core";
import {
  createProvisioners,
  FleetMaintenanceLoop,
  InstanceManager,
  LocalAgentSupervisor,
  type AgentSupervisorEvent,
  type ProvisionerSet,
} from "@devenv/fleet";
import { AgentHub, ClientTunnelRelay, StoreCommandBus, StoreHubBackend } from "@devenv/hub";
import { JobRunner, refreshJobHandler, Scheduler, shrinkJobHandlers } from "@devenv/jobs";
import { openStore, type Store } from "@devenv/store";
import { awsCredentialsFrom, openBlobAccess } from "./blob-access.ts";
import { bindHttp } from "./http-listener.ts";
import { httpRoutes } from "./http-routes.ts";
import { createMetrics } from "./metrics.ts";
import type { ServerSettings } from "./config/server-config.ts";
import { systemUser } from "./system-user.ts";
import { tunnelAccess } from "./tunnel-access.ts";

/** What a process gives the control plane besides its settings: how it runs, not what it does. */
export interface ControlPlaneRuntime {
  /** How a local instance's agent is started (the agent of this install); without it local instances cannot start. */
  agentCommand?: readonly string[];
  clock?: Clock;
  /** JSON logs; default pino to stderr (stdout carries only the first-run admin token). */
  logger?: Logger;
  /** Where the first-run admin token is printed; default stdout. */
  out?: NodeJS.WritableStream;
  /** The environment jobs read (the rules' pseudonym secret) and secrets are resolved from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Replaces the provisioners the settings name: a test's recording provisioner. */
  provisioners?: ProvisionerSet;
  /** Largest API request body (default 1 MiB). */
  maxBodyBytes?: number;
  /** The fleet page's and Slack's settings beyond the config file's (tests make them fast). */
  ops?: OpsRoutesOptions;
}

export interface RunningControlPlane {
  url: string;
  /** The admin token created on the first run (also printed once); undefined on later runs. */
  firstRunAdminToken: string | undefined;
  store: Store;
  instances: InstanceManager;
  hub: AgentHub;
  jobs: JobRunner;
  scheduler: Scheduler;
  /** Stops taking requests, lets work in flight finish, closes everything in reverse order of building. */
  close(): Promise<void>;
}

/**
 * The control plane, built in one fixed order with nothing filled in later: settings →
 * store → blob store → provisioners → instance manager → agent hub and tunnels → jobs →
 * scheduler → fleet maintenance → HTTP routes. The socket is bound first so every part
 * knows the URL; requests are answered only once everything is built. Closed in reverse.
 */
export async function startControlPlane(settings: ServerSettings, runtime: ControlPlaneRuntime = {}): Promise<RunningControlPlane> {
  const clock = runtime.clock ?? systemClock;
  const env = runtime.env ?? process.env;
  const logger = runtime.logger ?? pino({ base: { service: "devenv-control-plane" } }, pino.destination(2));
  const closers: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close();
  };
  try {
    const http = await bindHttp(settings.host, settings.port);
    closers.push(() => http.close(5_000));
    const publicUrl = settings.publicUrl ?? http.url;

    const store = await openStore({ url: settings.databaseUrl ?? join(settings.dataDir, "devenv.db"), clock });
    closers.push(() => store.close());
    const admin = await store.tokens.bootstrapAdmin();
    if (admin !== null) {
      (runtime.out ?? process.stdout).write(`First run: created the admin user "${admin.user.name}".\nAdmin token (shown once, keep it safe): ${admin.plaintext}\n`);
      logger.info({ userId: admin.user.id }, "first run: admin user created, its token printed on stdout");
    }

    const signer = new UrlSigner(loadSigningKey({ file: join(settings.dataDir, "secrets", "url-signing.key"), hexFromEnv: settings.urlSigningKey }));
    const awsCredentials = awsCredentialsFrom(env);
    const blobAccess = openBlobAccess(settings.blobs, { publicUrl, signer, clock }, awsCredentials);

    const localAgentUrl = `${http.url.replace(/^http/, "ws")}/agent`;
    const provisioners =
      runtime.provisioners ??
      (await createProvisioners(settings.provisioners, {
        store,
        localAgentUrl,
        publicAgentUrl: `${publicUrl.replace(/^http/, "ws")}/agent`,
        instancesDir: join(settings.dataDir, "instances"),
        agentCommand: runtime.agentCommand,
        resolveSecret: (ref) => {
          const secret = resolveSecret(ref, env);
          if (secret.warning) logger.warn(secret.warning);
          return secret.value;
        },
        ec2Credentials: awsCredentials,
        // the agent release is published beside the snapshots (see infra/cloud-init)
        agentTarballUrl: () => `${publicUrl}/releases/devenv-agent-linux-x64.tar.gz`,
        onEvent: (event) => logger.info({ event }, "provisioner"),
      }));

    const instances = new InstanceManager({
      store,
      clock,
      provisioners,
      snapshots: blobAccess.snapshotAccess,
      defaultTtlMs: settings.reaper.ttlMs,
      maxTtlMs: settings.reaper.maxTtlMs,
      instancesPerUser: settings.quota.instancesPerUser,
      onError: (what, error, context) => logger.error({ err: error, ...context }, what),
    });
    await instances.start();
    closers.push(() => instances.close());

    const hub = new AgentHub({
      server: http.server,
      backend: new StoreHubBackend({ store, reports: instances }),
      bus: new StoreCommandBus({ store, logger }),
      heartbeatIntervalMs: settings.intervals.heartbeatMs,
      logger,
    });
    await hub.start();
    closers.push(() => hub.close());
    // what the instance manager decides, the hub carries out on whichever replica holds the socket
    instances.on("deliver", (agentId) => void hub.pushOutbox(agentId));
    instances.on("disconnect", (agentIds, reason) => void hub.disconnect(agentIds, reason));
    const relay = new ClientTunnelRelay({ server: http.server, hub, authorize: tunnelAccess(store, hub) });
    relay.start();
    closers.push(() => relay.close());

    const system = await systemUser(store);
    const jobs = new JobRunner({
      store,
      concurrency: settings.jobs.concurrency,
      taskConcurrency: settings.jobs.taskConcurrency,
      pollMs: settings.jobs.pollMs,
      handlers: {
        ...shrinkJobHandlers({ store, blobs: blobAccess.blobs, env }),
        refresh: refreshJobHandler({
          store,
          blobs: blobAccess.blobs,
          env,
          rollOut: (instanceId, snapshotId, signal) => instances.rollOut(system.id, instanceId, snapshotId, { signal, timeoutMs: settings.jobs.rolloutTimeoutMs }),
        }),
      },
      onError: (error) => logger.error({ err: error }, "job runner"),
    });
    // a replica with no job slots only serves the API and agents; others run the queue
    if (settings.jobs.concurrency > 0) {
      jobs.start();
      closers.push(() => jobs.stop());
    }

    const scheduler = new Scheduler({
      store,
      clock,
      onFired: (schedule, jobId) => {
        logger.info({ schedule: schedule.name, jobId }, "schedule fired");
        jobs.poke();
      },
    });
    scheduler.start(settings.intervals.schedulerMs, (error) => logger.error({ err: error }, "scheduler"));
    closers.push(() => scheduler.stop());

    if (settings.intervals.maintenanceMs > 0) {
      const maintenance = new FleetMaintenanceLoop({
        store,
        instances,
        clock,
        ec2Hosts: provisioners.ec2Hosts,
        intervalMs: settings.intervals.maintenanceMs,
        reaper: {
          idleLimitMs: settings.reaper.idleLimitMs,
          warnBeforeMs: settings.reaper.warnBeforeMs,
          warn: (instance, reason, at) => logger.warn({ instanceId: instance.id, ownerId: instance.ownerId, reason, at }, "instance will be reaped"),
        },
        onReport: (report) => {
          for (const error of report.errors) logger.error({ pass: error.pass }, error.message);
        },
      });
      maintenance.start();
      closers.push(() => maintenance.stop());
    }
    // local agents are detached like systemd services; this restarts the ones that die
    const local = provisioners.local;
    if (local !== undefined && settings.intervals.agentSupervisionMs > 0) {
      const supervisor = new LocalAgentSupervisor({
        provisioner: local,
        store,
        instances,
        intervalMs: settings.intervals.agentSupervisionMs,
        onEvent: (event) => logSupervision(logger, event),
      });
      supervisor.start();
      closers.push(() => supervisor.stop());
    }

    const liveness = (agentId: string) => hub.liveness(agentId);
    const extra = opsRoutes(
      { store, instances, clock, logger, liveness },
      { slack: settings.slack, ...runtime.ops },
    );
    closers.push(() => extra.close?.());
    const { handler: trpc } = createApiRouter(
      {
        store,
        clock,
        instances,
        liveness,
        hosts: provisioners.ec2Hosts,
        sources: settings.sources,
        onInternalError: (path, error) => logger.error({ err: error, path }, "internal error in an API call"),
      },
      { maxBodyBytes: runtime.maxBodyBytes },
    );
    http.serve(httpRoutes({ trpc, blobEndpoint: blobAccess.endpoint, store, metrics: createMetrics(store, clock.date()), extra, logger }));
    logger.info({ url: http.url, publicUrl, dataDir: settings.dataDir, store: store.dialect, provisioners: { personal: settings.provisioners.personal.kind, shared: settings.provisioners.shared.kind }, sources: settings.sourceOf }, "control plane listening");

    let closing: Promise<void> | undefined;
    return {
      url: http.url,
      firstRunAdminToken: admin?.plaintext,
      store,
      instances,
      hub,
      jobs,
      scheduler,
      close: () =>
        (closing ??= (async () => {
          logger.info("control plane shutting down");
          await closeAll();
          logger.info("control plane stopped");
        })()),
    };
  } catch (error) {
    await closeAll().catch(() => {});
    throw error;
  }
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
