import { opsRoutes, type DevenvServerOptions } from "@devenv/api";
import type { ServerSettings } from "./server-config.ts";

/**
 * The options of today's `startDevenvServer` (@devenv/api) for these settings, until this
 * lib's composition root starts the control plane itself. That server has no option for
 * sources, quota, the reaper's limits or provisioners other than local: they are not used.
 */
export function devenvServerOptionsFrom(settings: ServerSettings, run: { agentCommand: readonly string[]; env: NodeJS.ProcessEnv }): DevenvServerOptions {
  const { blobs, slack, jobs, intervals } = settings;
  const personal = settings.provisioners.personal;
  return {
    dataDir: settings.dataDir,
    port: settings.port,
    host: settings.host,
    databaseUrl: settings.databaseUrl,
    publicUrl: settings.publicUrl,
    urlSigningKey: settings.urlSigningKey,
    blobs:
      blobs.kind === "local"
        ? { kind: "local", dir: blobs.dir }
        : { kind: "s3", bucket: blobs.bucket, prefix: blobs.prefix, client: { region: blobs.region, ...(blobs.endpoint ? { endpoint: blobs.endpoint, forcePathStyle: true } : {}) } },
    agentCommand: run.agentCommand,
    instanceHeap: personal.kind === "local" ? personal.heap : undefined,
    jobConcurrency: jobs.concurrency,
    taskConcurrency: jobs.taskConcurrency,
    jobPollMs: jobs.pollMs,
    rolloutTimeoutMs: jobs.rolloutTimeoutMs,
    heartbeatIntervalMs: intervals.heartbeatMs,
    maintenanceIntervalMs: intervals.maintenanceMs,
    schedulerIntervalMs: intervals.schedulerMs,
    agentSupervisionIntervalMs: intervals.agentSupervisionMs,
    env: run.env,
    extraRoutes: (context) => opsRoutes(context, { slack: slack ? { signingSecret: slack.signingSecret } : undefined }),
  };
}
