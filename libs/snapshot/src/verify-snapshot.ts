import { createHash } from "node:crypto";
import { Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { snapshotKeys, type TransferProgress } from "@devenv/protocol";
import { BlobNotFoundError, type BlobStore } from "./store/blob-store.ts";
import { readManifest } from "./manifest.ts";
import { mapBounded } from "./util/bounded.ts";
import { progressReporter } from "./util/progress.ts";

export interface VerifyProblem {
  table: string;
  sha256: string;
  problem: string;
}

export interface VerifyReport {
  snapshotId: string;
  chunks: number;
  rows: number;
  bytes: number;
  problems: VerifyProblem[];
}

/** Reads every chunk of a snapshot from the store: present, sha256 and size match, row count matches. */
export async function verifySnapshot(
  store: BlobStore,
  snapshotId: string,
  options: { concurrency?: number; onProgress?: (p: TransferProgress) => void } = {},
): Promise<VerifyReport> {
  const manifest = await readManifest(store, snapshotId);
  const progress = progressReporter("verify", options.onProgress);
  const entries = manifest.tables.flatMap((t) => t.chunks.map((chunk) => ({ table: t.name, chunk })));
  progress.update({ phase: "verify", chunksTotal: entries.length, bytesTotal: manifest.totals.bytes, rowsTotal: manifest.totals.rows });
  const problems: VerifyProblem[] = [];
  let rows = 0;
  await mapBounded(entries, options.concurrency ?? 8, async ({ table, chunk }) => {
    const report = (problem: string) => problems.push({ table, sha256: chunk.sha256, problem });
    let body;
    try {
      body = await store.get(snapshotKeys.chunk(chunk.sha256));
    } catch (error) {
      if (error instanceof BlobNotFoundError) return report("missing");
      throw error;
    }
    const hash = createHash("sha256");
    let bytes = 0;
    let lines = 0;
    const tap = new Transform({
      transform(data: Buffer, _e, done) {
        hash.update(data);
        bytes += data.length;
        progress.add({ bytesDone: data.length });
        done(null, data);
      },
    });
    const countLines = new Writable({
      write(data: Buffer, _e, done) {
        for (let i = data.indexOf(10); i !== -1; i = data.indexOf(10, i + 1)) lines++;
        done();
      },
    });
    try {
      await pipeline(body, tap, createGunzip(), countLines);
    } catch (error) {
      return report(`cannot be decompressed: ${(error as Error).message}`);
    }
    const digest = hash.digest("hex");
    if (digest !== chunk.sha256) report(`sha256 is ${digest}`);
    else if (bytes !== chunk.bytes) report(`size is ${bytes} bytes, manifest says ${chunk.bytes}`);
    else if (lines !== chunk.rows) report(`holds ${lines} rows, manifest says ${chunk.rows}`);
    rows += lines;
    progress.add({ chunksDone: 1, rowsDone: lines });
  });
  progress.update({ phase: "done" }, true);
  return { snapshotId, chunks: entries.length, rows, bytes: manifest.totals.bytes, problems };
}
