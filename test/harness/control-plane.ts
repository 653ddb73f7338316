import { PassThrough } from "node:stream";
import { pino } from "pino";
import { createApiClient, type ApiClient } from "@devenv/api";
import { loadServerSettings, startControlPlane, type ControlPlaneRuntime, type RunningControlPlane, type ServerSettings } from "@devenv/control-plane";

/** Polls `check` until it returns a value; a throw from it fails at once. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 300): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The settings a test changes from the embedded defaults, and how the process runs. */
export interface TestPlaneOptions extends Pick<ControlPlaneRuntime, "agentCommand" | "clock" | "env" | "provisioners" | "logger"> {
  dataDir: string;
  port: number;
  publicUrl?: string;
  databaseUrl?: string;
  blobs?: ServerSettings["blobs"];
  agentSupervisionIntervalMs?: number;
  schedulerIntervalMs?: number;
  taskConcurrency?: number;
  jobPollMs?: number;
}

export interface TestControlPlane {
  server: RunningControlPlane;
  /** The first run's admin token and a client that uses it. */
  token: string;
  api: ApiClient;
  /** What the server printed on stdout. */
  printed(): string;
}

/** The whole control plane for a test, its stdout captured instead of printed. */
export async function startTestControlPlane(options: TestPlaneOptions, token?: string): Promise<TestControlPlane> {
  const out = new PassThrough();
  let printed = "";
  out.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  const defaults = loadServerSettings({ env: {}, flags: { dataDir: options.dataDir, port: options.port } });
  const settings: ServerSettings = {
    ...defaults,
    publicUrl: options.publicUrl,
    databaseUrl: options.databaseUrl,
    blobs: options.blobs ?? defaults.blobs,
    jobs: { ...defaults.jobs, taskConcurrency: options.taskConcurrency ?? defaults.jobs.taskConcurrency, pollMs: options.jobPollMs ?? defaults.jobs.pollMs },
    intervals: {
      heartbeatMs: 1_000,
      maintenanceMs: 0,
      schedulerMs: options.schedulerIntervalMs ?? defaults.intervals.schedulerMs,
      agentSupervisionMs: options.agentSupervisionIntervalMs ?? defaults.intervals.agentSupervisionMs,
    },
  };
  const { dataDir: _dataDir, port: _port, publicUrl: _publicUrl, databaseUrl: _databaseUrl, blobs: _blobs, agentSupervisionIntervalMs: _a, schedulerIntervalMs: _s, taskConcurrency: _t, jobPollMs: _j, ...runtime } = options;
  // the control plane's own log stays out of the test output
  const server = await startControlPlane(settings, { logger: pino({ level: "silent" }), ...runtime, out });
  const admin = token ?? server.firstRunAdminToken;
  if (admin === undefined) throw new Error("no admin token: a first run prints one, later runs need it passed in");
  return { server, token: admin, api: createApiClient({ url: server.url, token: admin }), printed: () => printed };
}

/** Ends every instance still alive (their agents and Cassandra nodes) and closes the server. */
export async function stopTestControlPlane(plane: TestControlPlane | undefined): Promise<void> {
  if (!plane) return;
  for (const instance of await plane.api.instances.list.query({}).catch(() => [])) {
    if (instance.state !== "terminated") await plane.api.instances.down.mutate({ id: instance.id }).catch(() => {});
  }
  await plane.server.instances.settled();
  await plane.server.close();
}

/** The WebSocket URL a forward uses to reach `target` (an instance id, `mine` or `shared`). */
export function tunnelUrl(server: { url: string }, target: string): string {
  return `${server.url.replace(/^http/, "ws")}/tunnel/${target}`;
}

/** A shrink of `keyspace` on the run's Cassandra with the example rules. */
export function exampleShrink(repo: string, contactPoint: string, localDataCenter: string, keyspace: string, asOf?: string) {
  return { source: { contactPoints: [contactPoint], localDataCenter, keyspace }, rulesFile: `${repo}/examples/leads-rules.yaml`, ...(asOf ? { asOf } : {}) };
}

/** Waits for a job to succeed and returns its result; a failed job fails the test with its error. */
export async function jobResult<T>(api: ApiClient, id: string, timeoutMs = 240_000): Promise<T> {
  const job = await until(`job ${id}`, async () => {
    const { job: current } = await api.jobs.show.query({ id });
    if (current.state === "failed" || current.state === "cancelled") throw new Error(`job ${id} ${current.state}: ${current.error ?? ""}`);
    return current.state === "succeeded" ? current : undefined;
  }, timeoutMs);
  return job.result as T;
}
