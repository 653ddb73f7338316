/**
 * Maps items with at most `limit` promises in flight, keeping input order in
 * the result. The first failure stops new work and rejects once running work settles.
 */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure) throw failure.error;
  return results;
}

/** A counting semaphore: bounds in-flight requests shared by several producers. */
export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];
  constructor(permits: number) {
    this.available = permits;
  }
  async acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter();
    else this.available++;
  }
}
