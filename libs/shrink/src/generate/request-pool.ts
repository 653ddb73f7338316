import { retry, type BackoffPolicy } from "@devenv/core";

/** Waits before retrying a request the server was too busy for: 100-200 ms, growing to 2.5-5 s. */
export const overloadBackoff: BackoffPolicy = { initialMs: 200, maxMs: 5_000, jitter: "equal" };

/**
 * Bounds the requests in flight against Cassandra. `submit` resolves once a
 * slot is free (so a producer that awaits it never runs ahead of the server),
 * idempotent requests are retried a few times on overload and timeouts, and the
 * first failure stops new work: `submit` and `drain` rethrow it.
 */
export class RequestPool {
  private readonly limit: number;
  private readonly backoff: BackoffPolicy;
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private idle: (() => void) | undefined;
  private failure: { error: unknown } | undefined;
  retries = 0;

  constructor(limit: number, backoff: BackoffPolicy = overloadBackoff) {
    this.limit = limit;
    this.backoff = backoff;
  }

  async submit(request: () => Promise<unknown>, options: { idempotent: boolean; onDone?: () => void }): Promise<void> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // release() hands its slot over
    if (this.failure) {
      this.release();
      throw this.failure.error;
    }
    void this.attempt(request, options.idempotent).then(
      () => {
        options.onDone?.();
        this.release();
      },
      (error: unknown) => {
        this.failure ??= { error };
        this.release();
      },
    );
  }

  /** Waits for every request in flight; rethrows the first failure. */
  async drain(): Promise<void> {
    if (this.running > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    if (this.failure) throw this.failure.error;
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) {
      next();
      return;
    }
    this.running--;
    if (this.running === 0 && this.idle) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }

  private async attempt(request: () => Promise<unknown>, idempotent: boolean): Promise<void> {
    await retry(request, {
      attempts: idempotent ? 6 : 1,
      policy: this.backoff,
      shouldRetry: isTransient,
      onRetry: () => this.retries++,
    });
  }
}

/** Write timeouts, overload and lost connections pass; bad requests do not. */
function isTransient(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const name = error.name;
  const code = (error as Error & { code?: unknown }).code;
  // 0x1001 overloaded, 0x1100 write timeout, 0x1000 unavailable
  if (typeof code === "number" && [0x1000, 0x1001, 0x1100].includes(code)) return true;
  return name === "OperationTimedOutError" || name === "NoHostAvailableError" || name === "BusyConnectionError";
}
