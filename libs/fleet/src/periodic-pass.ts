/**
 * Runs a pass at once and then `intervalMs` after each one ends (passes never
 * overlap) until stopped; `stop` waits for a pass in progress. A pass that
 * throws goes to `onError` and the next one runs on time.
 */
export class PeriodicPass {
  readonly #intervalMs: number;
  readonly #pass: () => Promise<unknown>;
  readonly #onError: (error: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = true;

  constructor(options: { intervalMs: number; pass: () => Promise<unknown>; onError: (error: unknown) => void }) {
    if (!(options.intervalMs > 0)) throw new Error(`intervalMs must be positive, got ${options.intervalMs}`);
    this.#intervalMs = options.intervalMs;
    this.#pass = options.pass;
    this.#onError = options.onError;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(delayMs: number): void {
    this.#timer = setTimeout(() => {
      this.#running = this.#pass()
        .catch((error: unknown) => this.#onError(error))
        .finally(() => {
          this.#running = undefined;
          if (!this.#stopped) this.#schedule(this.#intervalMs);
        });
    }, delayMs);
  }
}
