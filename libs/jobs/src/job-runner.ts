import { hostname } from "node:os";
import type { Job, JobKind, JsonValue, LogLevel, Store } from "@devenv/store";
import { StoreError } from "@devenv/store";

/** What a handler gets besides its job: a log kept with the job, and a signal for cancellation. */
export interface JobContext {
  /** Aborted when the job is cancelled, its lease is lost, or the runner stops. */
  signal: AbortSignal;
  log(level: LogLevel, line: string): void;
  /** Tells this runner that jobs were queued (e.g. this job's tasks), so it looks now rather than at its next poll. */
  poke(): void;
}

/** Does the job's work; the value returned is stored as the job's result. A throw fails this attempt. */
export type JobHandler = (job: Job, context: JobContext) => Promise<JsonValue | undefined>;

export interface JobRunnerOptions {
  store: Store;
  handlers: Partial<Record<JobKind, JobHandler>>;
  /** Jobs run at once by this runner: a queue, not an overload of the host. Default 1. */
  concurrency?: number;
  /**
   * Tasks (parts of another job, e.g. a shrink's token-range parts) run at once,
   * in their own slots: a job waiting for its tasks must not hold the only slot. Default 2.
   */
  taskConcurrency?: number;
  /** How long a lease lasts without renewal; renewed every third of it. Default 30 s. */
  leaseMs?: number;
  /** How often an idle runner looks for work. Default 1 s. */
  pollMs?: number;
  /** Wait before a failed attempt may run again. Default 5 s. */
  retryAfterMs?: number;
  /** Unique per runner; default host:pid:random. */
  owner?: string;
  onError?: (error: unknown) => void;
}

const logFlushMs = 500;
/** Kinds that are parts of another job, leased in their own slots. */
export const taskKinds: readonly JobKind[] = ["shrink-task"];

/**
 * Leases jobs of the kinds it has handlers for and runs them, renewing each lease
 * while the handler works. A runner that dies stops renewing: the lease expires
 * and another runner (or this one, restarted) takes the job again, until the
 * job's attempts are used up.
 */
export class JobRunner {
  readonly owner: string;
  readonly #store: Store;
  readonly #handlers: Partial<Record<JobKind, JobHandler>>;
  readonly #kinds: JobKind[];
  readonly #concurrency: number;
  readonly #taskConcurrency: number;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly #retryAfterMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #running = new Map<string, { controller: AbortController; done: Promise<void>; task: boolean }>();
  #loop: Promise<void> | undefined;
  #stopping = false;
  #wake: (() => void) | undefined;

  constructor(options: JobRunnerOptions) {
    this.#store = options.store;
    this.#handlers = options.handlers;
    this.#kinds = Object.keys(options.handlers) as JobKind[];
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
    this.#taskConcurrency = Math.max(1, options.taskConcurrency ?? 2);
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#pollMs = options.pollMs ?? 1_000;
    this.#retryAfterMs = options.retryAfterMs ?? 5_000;
    this.owner = options.owner ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.#onError = options.onError ?? (() => {});
  }

  /** Jobs this runner is working on now. */
  get runningJobIds(): string[] {
    return [...this.#running.keys()];
  }

  start(): void {
    if (this.#loop) return;
    this.#stopping = false;
    this.#loop = this.#pollLoop();
  }

  /** Looks for work now instead of at the next poll (e.g. right after an enqueue). */
  poke(): void {
    this.#wake?.();
  }

  /**
   * Stops leasing, aborts the running jobs and waits for their handlers. An aborted
   * attempt is not failed: its lease simply runs out and the job is taken again.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake?.();
    for (const { controller } of this.#running.values()) controller.abort(new Error("job runner stopping"));
    await this.#loop;
    await Promise.all([...this.#running.values()].map((r) => r.done));
    this.#loop = undefined;
  }

  /** Leases and runs at most one job to its end; false when there was none. For tests and one-shot use. */
  async runOnce(): Promise<boolean> {
    const job = await this.#store.jobs.lease({ owner: this.owner, kinds: this.#kinds, leaseMs: this.#leaseMs });
    if (!job) return false;
    await this.#run(job);
    return true;
  }

  async #pollLoop(): Promise<void> {
    while (!this.#stopping) {
      let leased = false;
      const kinds = this.#kindsWithFreeSlots();
      if (kinds.length > 0) {
        try {
          const job = await this.#store.jobs.lease({ owner: this.owner, kinds, leaseMs: this.#leaseMs });
          if (job) {
            leased = true;
            const controller = new AbortController();
            const done = this.#run(job, controller).finally(() => {
              this.#running.delete(job.id);
              this.#wake?.();
            });
            this.#running.set(job.id, { controller, done, task: taskKinds.includes(job.kind) });
          }
        } catch (error) {
          this.#onError(error);
        }
      }
      // full, or nothing to do: wait for a slot, a poke or the next poll
      if (!leased || this.#kindsWithFreeSlots().length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#pollMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  #kindsWithFreeSlots(): JobKind[] {
    let tasks = 0;
    for (const r of this.#running.values()) if (r.task) tasks++;
    const jobs = this.#running.size - tasks;
    return this.#kinds.filter((kind) => (taskKinds.includes(kind) ? tasks < this.#taskConcurrency : jobs < this.#concurrency));
  }

  async #run(job: Job, controller = new AbortController()): Promise<void> {
    const handler = this.#handlers[job.kind];
    const pending: { level: LogLevel; line: string }[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      const lines = pending.splice(0);
      await this.#store.jobLogs.appendMany(job.id, lines).catch(this.#onError);
    };
    const flusher = setInterval(() => void flush(), logFlushMs);
    // renew while working; losing the lease (cancelled, or taken by another runner) aborts the handler
    const renewer = setInterval(() => {
      this.#store.jobs.renewLease(job.id, this.owner, this.#leaseMs).catch((error: unknown) => {
        if (error instanceof StoreError && error.code === "conflict") controller.abort(new Error("the job was cancelled or its lease was lost"));
        else this.#onError(error);
      });
    }, Math.max(50, Math.floor(this.#leaseMs / 3)));
    const context: JobContext = {
      signal: controller.signal,
      log: (level, line) => {
        pending.push({ level, line });
      },
      poke: () => this.poke(),
    };
    try {
      if (!handler) throw new Error(`no handler for jobs of kind ${job.kind}`);
      // written at once: if this runner dies, the log still shows who had the job
      await this.#store.jobLogs.append(job.id, "info", `attempt ${job.attempts} of ${job.maxAttempts} on ${this.owner}`);
      const result = await handler(job, context);
      controller.signal.throwIfAborted();
      clearInterval(renewer);
      await flush();
      await this.#store.jobs.complete(job.id, this.owner, result ?? null);
    } catch (error) {
      clearInterval(renewer);
      const message = error instanceof Error ? error.message : String(error);
      if (controller.signal.aborted) {
        // cancelled or lease lost: not this runner's to fail; a stopping runner leaves the lease to expire
        context.log("warn", `stopped: ${String((controller.signal.reason as Error | undefined)?.message ?? message)}`);
        await flush();
        return;
      }
      context.log("error", message);
      await flush();
      await this.#store.jobs.fail(job.id, this.owner, message, { retryAfterMs: this.#retryAfterMs }).catch(this.#onError);
    } finally {
      clearInterval(renewer);
      clearInterval(flusher);
    }
  }
}
