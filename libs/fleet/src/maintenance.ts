import type { Clock } from "@devenv/core";
import type { Store } from "@devenv/store";
import type { ManagedHostDirectory } from "./ec2-provisioner.ts";
import { expireStuckInstances, type StateLimits, type TimeoutOutcome } from "./lifecycle-timeouts.ts";
import type { InstanceManager } from "./instance-manager.ts";
import { reapInstances, type ReapOutcome, type ReaperOptions } from "./reaper.ts";
import { PeriodicPass } from "./periodic-pass.ts";
import { reconcileEc2, type ReconcileReport } from "./reconcile.ts";

export interface FleetMaintenanceOptions {
  store: Store;
  instances: InstanceManager;
  clock: Clock;
  /** The EC2 side to reconcile with; absent when the control plane runs no EC2 provisioner. */
  ec2Hosts?: ManagedHostDirectory;
  limits?: StateLimits;
  reaper: Pick<ReaperOptions, "warn" | "idleLimitMs" | "warnBeforeMs" | "minNoticeMs">;
  reconcileGraceMs?: number;
}

export interface FleetMaintenanceReport {
  timeouts: TimeoutOutcome[];
  reaped: ReapOutcome[];
  reconciled: ReconcileReport | undefined;
  /** A pass that threw; the others still ran. */
  errors: { pass: "timeouts" | "reaper" | "reconcile"; message: string }[];
}

/**
 * One round of every fleet pass: lifecycle timeouts, the reaper, then EC2 reconciliation.
 * A pass that fails (EC2 unreachable, say) does not keep the others from running.
 */
export async function runFleetMaintenance(options: FleetMaintenanceOptions): Promise<FleetMaintenanceReport> {
  const report: FleetMaintenanceReport = { timeouts: [], reaped: [], reconciled: undefined, errors: [] };
  const attempt = async (pass: FleetMaintenanceReport["errors"][number]["pass"], work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      report.errors.push({ pass, message: error instanceof Error ? error.message : String(error) });
    }
  };
  const { store, instances, clock } = options;
  await attempt("timeouts", async () => {
    report.timeouts = await expireStuckInstances({ store, instances, clock, ...(options.limits ? { limits: options.limits } : {}) });
  });
  await attempt("reaper", async () => {
    report.reaped = await reapInstances({ store, instances, clock, ...options.reaper });
  });
  const hosts = options.ec2Hosts;
  if (hosts) {
    await attempt("reconcile", async () => {
      report.reconciled = await reconcileEc2({ store, instances, hosts, clock, ...(options.reconcileGraceMs !== undefined ? { graceMs: options.reconcileGraceMs } : {}) });
    });
  }
  return report;
}

/**
 * Runs `runFleetMaintenance` every `intervalMs` (rounds never overlap) until stopped.
 * `stop` waits for a round in progress to finish.
 */
export class FleetMaintenanceLoop {
  readonly #loop: PeriodicPass;

  constructor(options: FleetMaintenanceOptions & { intervalMs: number; onReport?: (report: FleetMaintenanceReport) => void }) {
    const onReport = options.onReport ?? (() => {});
    this.#loop = new PeriodicPass({
      intervalMs: options.intervalMs,
      pass: async () => onReport(await runFleetMaintenance(options)),
      // a failing pass is in the report; only onReport itself can throw, and it is where reports go
      onError: (error) => process.emitWarning(`fleet maintenance: reporting a round failed: ${String(error)}`),
    });
  }

  start(): void {
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
  }
}
