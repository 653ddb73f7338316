import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Store } from "@devenv/store";
import { everyPage, instanceStates, jobKinds } from "@devenv/store";

/**
 * The control plane's Prometheus metrics, read from the store at scrape time: every
 * replica reports the same catalogue-wide figures, and nothing is kept that a restart
 * would lose. Job durations are observed for jobs that finished since the last scrape.
 */
export function createMetrics(store: Store, startedAt: Date): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "devenv_control_plane_" });

  new Gauge({
    name: "devenv_instances",
    help: "Instances by lifecycle state (terminated ones excluded)",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await store.instances.countByState();
      for (const state of instanceStates) if (state !== "terminated") this.set({ state }, counts[state]);
    },
  });

  new Gauge({
    name: "devenv_agents",
    help: "Registered agents (credential not revoked) by the state they last reported",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const [state, count] of Object.entries(await store.agents.countByState())) this.set({ state }, count);
    },
  });

  new Gauge({
    name: "devenv_jobs",
    help: "Jobs waiting or running, by kind and state",
    labelNames: ["kind", "state"] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const kind of jobKinds) for (const state of ["queued", "running"] as const) this.set({ kind, state }, 0);
      for (const { kind, state, count } of await store.jobs.countByKindAndState(["queued", "running"])) this.set({ kind, state }, count);
    },
  });

  let observedUntil = startedAt.toISOString();
  let observedAtBoundary = new Set<string>();
  new Histogram({
    name: "devenv_job_duration_seconds",
    help: "How long finished jobs ran, from start to finish, by kind and outcome (jobs finished while this process runs)",
    labelNames: ["kind", "state"] as const,
    buckets: [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400],
    registers: [registry],
    async collect() {
      const finished = await store.jobs.list({ states: ["succeeded", "failed", "cancelled"], limit: 1000 });
      let newest = observedUntil;
      for (const job of finished) {
        if (!job.finishedAt || !job.startedAt || job.finishedAt < observedUntil || observedAtBoundary.has(job.id)) continue;
        this.observe({ kind: job.kind, state: job.state }, Math.max(0, (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000));
        if (job.finishedAt > newest) newest = job.finishedAt;
      }
      // jobs finishing in the same millisecond as the newest one seen are remembered, so none counts twice
      observedAtBoundary = new Set(finished.filter((j) => j.finishedAt === newest).map((j) => j.id));
      observedUntil = newest;
    },
  });

  const restoresInFlight = async () => {
    let rate = 0;
    let count = 0;
    for await (const instance of everyPage((page) => store.instances.list({ states: ["registering", "restoring", "ready", "refreshing"], ...page }))) {
      const latest = await store.assignments.latestForInstance(instance.id);
      if (!latest || !["sent", "running"].includes(latest.state)) continue;
      count += 1;
      const reported = latest.progress?.["rate"];
      if (typeof reported === "number" && Number.isFinite(reported)) rate += reported;
    }
    return { rate, count };
  };
  new Gauge({
    name: "devenv_restore_throughput_bytes_per_second",
    help: "Sum of the rates agents report for the restores in flight",
    registers: [registry],
    async collect() {
      this.set((await restoresInFlight()).rate);
    },
  });
  new Gauge({
    name: "devenv_restores_in_flight",
    help: "Assignments sent to agents and not yet finished",
    registers: [registry],
    async collect() {
      this.set((await restoresInFlight()).count);
    },
  });
  return registry;
}
