import { RefreshJobPayload, type RefreshJobResult } from "@devenv/protocol";
import { everyPage, type Job, type JsonValue, type Store } from "@devenv/store";
import type { JobContext, JobHandler } from "./job-runner.ts";
import { parsePayload, runShrinkJob, type ShrinkJobDeps } from "./shrink-job.ts";

export interface RefreshJobDeps extends ShrinkJobDeps {
  /**
   * Puts the snapshot on the instance and resolves once the instance reports it
   * restored; throws when the restore fails (the instance keeps its previous data).
   * An instance already restoring this snapshot is waited for, not assigned again.
   */
  rollOut(instanceId: string, snapshotId: string, signal: AbortSignal): Promise<void>;
}

/**
 * The nightly refresh: a fresh snapshot from the configured source, then every
 * ready personal instance (or the ones named) restored from it, a few at a time.
 * An instance that fails keeps its previous snapshot and is reported in the
 * result; the job still succeeds so the others are not rolled back.
 */
export async function runRefreshJob(deps: RefreshJobDeps, payload: RefreshJobPayload, context: JobContext, job: Pick<Job, "id" | "attempts">): Promise<RefreshJobResult> {
  const shrunk = await runShrinkJob(deps, payload.shrink, context, job);
  const targets = payload.instanceIds ?? (await everyReadyPersonalInstance(deps.store, shrunk.snapshotId));
  context.log("info", `rolling ${shrunk.snapshotId} out to ${targets.length} instance(s), ${payload.concurrency} at a time`);
  const outcomes: RefreshJobResult["instances"] = [];
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const instanceId = targets[next++]!;
      context.signal.throwIfAborted();
      try {
        await deps.rollOut(instanceId, shrunk.snapshotId, context.signal);
        outcomes.push({ instanceId, ok: true });
        context.log("info", `${instanceId}: restored ${shrunk.snapshotId}`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        outcomes.push({ instanceId, ok: false, error: message });
        context.log("warn", `${instanceId}: kept its previous snapshot: ${message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(payload.concurrency, targets.length) }, worker));
  const failed = outcomes.filter((o) => !o.ok).length;
  context.log(failed > 0 ? "warn" : "info", `refresh done: ${outcomes.length - failed} restored, ${failed} failed`);
  return { snapshotId: shrunk.snapshotId, instances: outcomes.sort((a, b) => a.instanceId.localeCompare(b.instanceId)) };
}

/**
 * Ready personal instances, plus those already refreshing to this very snapshot: a
 * retried refresh (its runner died mid roll-out) waits for them instead of skipping them.
 */
async function everyReadyPersonalInstance(store: Store, snapshotId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const instance of everyPage((page) => store.instances.list({ kind: "personal", states: ["ready", "refreshing"], ...page }))) {
    if (instance.state === "ready" || (await store.assignments.latestForInstance(instance.id))?.snapshotId === snapshotId) ids.push(instance.id);
  }
  return ids;
}

export function refreshJobHandler(deps: RefreshJobDeps): JobHandler {
  return async (job: Job, context: JobContext) => (await runRefreshJob(deps, parsePayload(RefreshJobPayload, job), context, job)) as unknown as JsonValue;
}
