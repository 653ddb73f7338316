import { CronExpressionParser } from "cron-parser";
import { CodedError, systemClock, type Clock } from "@devenv/core";
import type { Schedule, Store } from "@devenv/store";

/** A bad cron expression or time zone, with what was wrong. */
export class ScheduleError extends CodedError<"invalid-schedule"> {
  constructor(message: string) {
    super("invalid-schedule", message);
    this.name = "ScheduleError";
  }
}

/** The first run strictly after `after`, in the schedule's time zone (so "0 2 * * *" is 02:00 local, DST included). */
export function nextRunAfter(cron: string, timezone: string, after: Date): Date {
  assertTimeZone(timezone);
  try {
    return CronExpressionParser.parse(cron, { currentDate: after, tz: timezone, strict: false }).next().toDate();
  } catch (error) {
    throw new ScheduleError(`cron "${cron}": ${(error as Error).message}`);
  }
}

function assertTimeZone(timezone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw new ScheduleError(`unknown time zone "${timezone}" (use an IANA name like Europe/Berlin or UTC)`);
  }
}

export interface SchedulerOptions {
  store: Store;
  clock?: Clock;
  /** Called after a schedule fired and its job was enqueued (e.g. to poke a runner). */
  onFired?: (schedule: Schedule, jobId: string) => void;
}

/**
 * Fires due schedules: each enqueues one job of its kind with its payload. Several
 * control-plane replicas may tick at once; the store's compare-and-set on the next
 * run time lets exactly one of them fire each run. A run missed while everything was
 * down fires once, not once per missed slot.
 */
export class Scheduler {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #onFired: (schedule: Schedule, jobId: string) => void;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#clock = options.clock ?? systemClock;
    this.#onFired = options.onFired ?? (() => {});
  }

  /** Creates or replaces a schedule, validating its cron and time zone first. */
  async set(input: { name: string; cron: string; timezone: string; kind: Schedule["kind"]; payload: Schedule["payload"]; enabled?: boolean }): Promise<Schedule> {
    const nextRunAt = nextRunAfter(input.cron, input.timezone, this.#clock.date());
    return this.#store.schedules.upsert({ ...input, nextRunAt });
  }

  /** Fires every due schedule once; returns the ids of the jobs enqueued. */
  async tick(): Promise<string[]> {
    const now = this.#clock.date();
    const fired: string[] = [];
    for (const schedule of await this.#store.schedules.due(now)) {
      if (schedule.nextRunAt === null) continue;
      const next = nextRunAfter(schedule.cron, schedule.timezone, now);
      const jobId = await this.#store.transaction(async (tx) => {
        if (!(await tx.schedules.claimRun(schedule.id, schedule.nextRunAt!, next))) return undefined;
        const job = await tx.jobs.enqueue({ kind: schedule.kind, payload: schedule.payload });
        await tx.audit.record({ actor: "scheduler", action: "schedule.fired", subject: schedule.name, detail: { jobId: job.id, nextRunAt: next.toISOString() } });
        return job.id;
      });
      if (jobId === undefined) continue;
      fired.push(jobId);
      this.#onFired(schedule, jobId);
    }
    return fired;
  }

  /** Ticks every `intervalMs` (default 15 s) until stopped. */
  start(intervalMs = 15_000, onError: (error: unknown) => void = () => {}): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick().catch(onError), intervalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
