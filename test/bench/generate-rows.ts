import type cassandra from "cassandra-driver";
import { retry, type BackoffPolicy } from "@devenv/core";
import type { BenchShape } from "./data-shapes.ts";

export interface GenerateOptions {
  /** Requests in flight. */
  concurrency?: number;
  onProgress?: (rowsDone: number) => void;
}

/**
 * Inserts rows [0, rows) of a shape: prepared statements, the rows of one partition in
 * one unlogged batch, a few hundred requests in flight. Writes are idempotent, so one
 * that times out on a busy machine is simply sent again.
 */
export async function generateRows(
  client: cassandra.Client,
  keyspace: string,
  shape: BenchShape,
  seed: number,
  rows: number,
  options: GenerateOptions = {},
): Promise<void> {
  const limit = options.concurrency ?? 256;
  const names = shape.columns.map((c) => c.name);
  const insert = `INSERT INTO ${keyspace}.${shape.table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`;
  let inFlight = 0;
  let done = 0;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let lastReport = Date.now();

  const send = (first: number, count: number) => {
    inFlight++;
    const write =
      count === 1
        ? () => client.execute(insert, shape.rowAt(seed, first), { prepare: true, isIdempotent: true })
        : () =>
            client.batch(
              Array.from({ length: count }, (_, k) => ({ query: insert, params: shape.rowAt(seed, first + k) })),
              { prepare: true, logged: false, isIdempotent: true },
            );
    retry(write, { attempts: 5, policy: writeBackoff })
      .then(
        () => {
          done += count;
        },
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => {
        inFlight--;
        wake?.();
      });
  };
  const waitBelow = async (n: number) => {
    while (inFlight >= n) await new Promise<void>((resolve) => (wake = resolve));
  };

  for (let first = 0; first < rows && !failure; first += shape.rowsPerPartition) {
    await waitBelow(limit);
    send(first, Math.min(shape.rowsPerPartition, rows - first));
    if (options.onProgress && Date.now() - lastReport > 5_000) {
      lastReport = Date.now();
      options.onProgress(done);
    }
  }
  await waitBelow(1);
  if (failure) throw failure.error;
  options.onProgress?.(done);
}

/** A write the node was too busy for is tried again after 0.2, 0.4, 0.8 and 1.6 s. */
const writeBackoff: BackoffPolicy = { initialMs: 200, maxMs: 1_600, jitter: "none" };
