import { join } from "node:path";
import type cassandra from "cassandra-driver";
import type { AssignMessage, CancelMessage, ProgressMessage, Replication, ResultMessage, TransferProgress } from "@devenv/protocol";
import { HttpSnapshotStore, restoreSnapshot, SnapshotError } from "@devenv/snapshot";
import type { HttpSnapshotStoreOptions, RestoreOptions } from "@devenv/snapshot";
import type { AgentLogger } from "../logger.ts";
import { silentLogger } from "../logger.ts";
import type { LifecycleTracker } from "../session/lifecycle.ts";
import type { AssignmentRecord, AssignmentState } from "./assignment-state.ts";

export interface AssignmentRunnerOptions {
  state: AssignmentState;
  lifecycle: LifecycleTracker;
  /** Where restores keep their chunk cache and journals. */
  workDir: string;
  /** A Cassandra client for one restore (closed after it). */
  connect: () => Promise<cassandra.Client>;
  sendProgress: (progress: ProgressMessage) => void;
  sendResult: (result: ResultMessage) => void;
  /** Progress frames at most this often, phase changes always (default 500 ms). */
  progressIntervalMs?: number;
  storeOptions?: Omit<HttpSnapshotStoreOptions, "signal">;
  restoreOptions?: Pick<RestoreOptions, "loadPath" | "downloadConcurrency" | "chunkConcurrency" | "cacheDir">;
  now?: () => Date;
  logger?: AgentLogger;
}

/** Why a running restore was stopped: the control plane cancelled it, or the agent is shutting down. */
type StopReason = "cancelled" | "shutdown";

class RestoreStopped extends Error {
  readonly reason: StopReason;
  constructor(reason: StopReason) {
    super(reason === "cancelled" ? "cancelled by the control plane" : "the agent is shutting down");
    this.reason = reason;
  }
}

/**
 * Executes restore assignments one at a time, in arrival order. An assignment is
 * effective once per idempotency key: it is persisted before it runs, a duplicate is
 * answered with the result already known (or ignored while it runs), and one left
 * unfinished by a crash resumes at the next start, where the restore journal makes it
 * continue rather than start over.
 */
export class AssignmentRunner {
  readonly #options: AssignmentRunnerOptions;
  readonly #logger: AgentLogger;
  readonly #now: () => Date;
  #running: { record: AssignmentRecord; controller: AbortController; done: Promise<void> } | undefined;
  #pumping = false;
  #stopping = false;

  constructor(options: AssignmentRunnerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    this.#now = options.now ?? (() => new Date());
  }

  /** The assignment running now, if any. */
  get current(): AssignmentRecord | undefined {
    return this.#running?.record;
  }

  /** Picks up what a previous run of the agent left unfinished. */
  resume(): void {
    const unfinished = this.#options.state.unfinished();
    if (unfinished.length > 0) this.#logger.info({ assignments: unfinished.map((a) => a.assignmentId) }, "resuming unfinished assignments");
    this.#pump();
  }

  /** Takes an assign command (already acknowledged). */
  async assign(message: AssignMessage): Promise<void> {
    const known = this.#options.state.byKey(message.idempotencyKey);
    if (known) {
      this.#logger.info({ assignmentId: known.assignmentId, status: known.status }, "duplicate assignment: already known");
      if (known.status === "succeeded" || known.status === "failed" || known.status === "cancelled") this.#options.sendResult(resultOf(known));
      return;
    }
    await this.#options.state.add({
      idempotencyKey: message.idempotencyKey,
      assignmentId: message.assignmentId,
      snapshot: message.snapshot,
      targetKeyspace: message.targetKeyspace,
      ...(message.replication ? { replication: message.replication } : {}),
      status: "queued",
      updatedAt: this.#now().toISOString(),
    });
    if (this.#running) this.#logger.info({ assignmentId: message.assignmentId, behind: this.#running.record.assignmentId }, "assignment queued behind the running one");
    this.#pump();
  }

  /** Cancels a queued or running assignment; a finished or unknown one is left as it is. */
  async cancel(message: CancelMessage): Promise<void> {
    const record = this.#options.state.byAssignmentId(message.assignmentId);
    if (!record) {
      this.#logger.warn({ assignmentId: message.assignmentId }, "cancel of an unknown assignment ignored");
      return;
    }
    if (this.#running?.record === record) {
      this.#running.controller.abort(new RestoreStopped("cancelled"));
      return;
    }
    if (record.status === "queued") {
      const cancelled = await this.#options.state.update(record.idempotencyKey, { status: "cancelled", error: "cancelled by the control plane before it started" }, this.#now());
      this.#options.sendResult(resultOf(cancelled));
    }
  }

  /**
   * Stops for a shutdown: the running restore is aborted and stays `running` in the state
   * file, so the next start resumes it from its journal. Nothing new starts.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const running = this.#running;
    if (!running) return;
    running.controller.abort(new RestoreStopped("shutdown"));
    await running.done;
  }

  #pump(): void {
    if (this.#pumping || this.#running || this.#stopping) return;
    const next = this.#options.state.unfinished()[0];
    if (!next) return;
    this.#pumping = true;
    const controller = new AbortController();
    const done = this.#execute(next, controller.signal).finally(() => {
      this.#running = undefined;
      this.#pump();
    });
    this.#running = { record: next, controller, done };
    this.#pumping = false;
  }

  async #execute(record: AssignmentRecord, signal: AbortSignal): Promise<void> {
    const { state, lifecycle } = this.#options;
    await state.update(record.idempotencyKey, { status: "running" }, this.#now());
    lifecycle.moveTo("downloading", `assignment ${record.assignmentId}: snapshot ${record.snapshot.id} into ${record.targetKeyspace}`);
    const progress = this.#progressForwarder(record);
    let client: cassandra.Client | undefined;
    try {
      client = await this.#options.connect();
      const result = await restoreSnapshot({
        ...this.#options.restoreOptions,
        store: new HttpSnapshotStore(record.snapshot, { ...this.#options.storeOptions, signal }),
        snapshotId: record.snapshot.id,
        client,
        keyspace: record.targetKeyspace,
        ...(record.replication ? { replication: replicationCql(record.replication) } : {}),
        workDir: this.#options.workDir,
        cacheDir: this.#options.restoreOptions?.cacheDir ?? join(this.#options.workDir, "helper"),
        signal,
        onProgress: progress,
        onNote: (note) => this.#logger.info({ assignmentId: record.assignmentId }, note),
      });
      const finished = await state.update(record.idempotencyKey, { status: "succeeded" }, this.#now());
      await state.recordRestore({ snapshotId: record.snapshot.id, ok: true, at: this.#now().toISOString() });
      this.#logger.info({ assignmentId: record.assignmentId, rows: result.rows, resumed: result.resumed, seconds: result.seconds.total }, "restore done");
      lifecycle.moveTo("ready", `snapshot ${record.snapshot.id} in ${record.targetKeyspace}`);
      this.#options.sendResult(resultOf(finished));
    } catch (error) {
      const stopped = stopReasonOf(signal, error);
      if (stopped === "shutdown") {
        this.#logger.info({ assignmentId: record.assignmentId }, "restore stopped for shutdown; it resumes at the next start");
        return;
      }
      const message = stopped === "cancelled" ? "cancelled by the control plane" : describe(error);
      this.#logger.warn({ assignmentId: record.assignmentId, error: message }, "restore did not complete");
      const finished = await state.update(record.idempotencyKey, { status: stopped === "cancelled" ? "cancelled" : "failed", error: message }, this.#now());
      await state.recordRestore({ snapshotId: record.snapshot.id, ok: false, at: this.#now().toISOString(), error: message.slice(0, 2000) });
      // the old keyspace is intact unless the schema/load phase had begun: say which
      const loadBegan = lifecycle.state === "restoring";
      if (!loadBegan && state.currentSnapshotId !== undefined) lifecycle.moveTo("ready", `restore of ${record.snapshot.id} did not complete; ${state.currentSnapshotId} kept`);
      else lifecycle.moveTo("degraded", `restore of ${record.snapshot.id} did not complete: ${message}`.slice(0, 2000));
      this.#options.sendResult(resultOf(finished));
    } finally {
      await client?.shutdown().catch(() => {});
    }
  }

  /** Turns library progress into throttled wire frames and the matching lifecycle moves. */
  #progressForwarder(record: AssignmentRecord): (progress: TransferProgress) => void {
    const interval = this.#options.progressIntervalMs ?? 500;
    let lastSent = 0;
    let lastPhase: string | undefined;
    let lastBytes = 0;
    let lastAt = Date.now();
    let rate: number | undefined;
    return (progress) => {
      if ((progress.phase === "schema" || progress.phase === "load") && this.#options.lifecycle.state === "downloading") {
        this.#options.lifecycle.moveTo("restoring", `assignment ${record.assignmentId}: loading ${record.targetKeyspace}`);
      }
      const now = Date.now();
      const phaseChanged = progress.phase !== lastPhase;
      if (!phaseChanged && now - lastSent < interval) return;
      if (!phaseChanged && now > lastAt) rate = Math.max(0, ((progress.bytesDone - lastBytes) * 1000) / (now - lastAt));
      else if (phaseChanged) rate = undefined;
      lastSent = now;
      lastPhase = progress.phase;
      lastBytes = progress.bytesDone;
      lastAt = now;
      const totalBytes = progress.bytesTotal ?? 0;
      const etaSeconds = rate && rate > 0 && totalBytes > progress.bytesDone ? (totalBytes - progress.bytesDone) / rate : undefined;
      this.#options.sendProgress({
        type: "progress",
        assignmentId: record.assignmentId,
        phase: progress.phase,
        bytes: progress.bytesDone,
        totalBytes,
        rows: progress.rowsDone,
        totalRows: progress.rowsTotal ?? 0,
        ...(rate === undefined ? {} : { rate }),
        ...(etaSeconds === undefined ? {} : { etaSeconds }),
      });
    };
  }
}

function resultOf(record: AssignmentRecord): ResultMessage {
  return {
    type: "result",
    assignmentId: record.assignmentId,
    snapshotId: record.snapshot.id,
    ok: record.status === "succeeded",
    ...(record.error === undefined ? {} : { error: record.error.slice(0, 4000) }),
  };
}

function stopReasonOf(signal: AbortSignal, error: unknown): StopReason | undefined {
  if (!signal.aborted) return undefined;
  const reason: unknown = signal.reason;
  if (reason instanceof RestoreStopped) return reason.reason;
  return error instanceof RestoreStopped ? error.reason : "cancelled";
}

function describe(error: unknown): string {
  if (error instanceof SnapshotError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The protocol's replication as the CQL map restoreSnapshot takes. */
export function replicationCql(replication: Replication): string {
  const quote = (text: string) => `'${text.replaceAll("'", "''")}'`;
  const entries = Object.entries(replication.factors).map(([key, factor]) => `${quote(key)}: ${factor}`);
  return `{${[`'class': ${quote(replication.class)}`, ...entries].join(", ")}}`;
}
