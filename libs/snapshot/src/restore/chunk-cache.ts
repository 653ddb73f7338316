import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { snapshotKeys, type SnapshotChunk } from "@devenv/protocol";
import { BlobNotFoundError, type BlobStore } from "../store/blob-store.ts";
import { SnapshotError } from "../errors.ts";
import { mapBounded } from "../util/bounded.ts";

/** A local folder of verified chunks, named by their sha256, shared by every restore on the host. */
export class ChunkCache {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  pathOf(sha256: string): string {
    return join(this.dir, sha256);
  }

  /**
   * Makes every chunk present and verified in the cache: cached chunks are
   * re-hashed (a corrupt one is fetched again), missing ones are downloaded
   * through a hash and only renamed into place when size and sha256 match.
   */
  async fill(
    store: BlobStore,
    chunks: readonly SnapshotChunk[],
    options: { concurrency?: number; onBytes?: (bytes: number, fromCache: boolean) => void; onChunk?: (chunk: SnapshotChunk) => void } = {},
  ): Promise<{ downloaded: number; cached: number; bytesDownloaded: number }> {
    await mkdir(this.dir, { recursive: true });
    const unique = [...new Map(chunks.map((c) => [c.sha256, c])).values()];
    let downloaded = 0;
    let cached = 0;
    let bytesDownloaded = 0;
    await mapBounded(unique, options.concurrency ?? 8, async (chunk) => {
      if (await this.isValid(chunk)) {
        cached++;
        options.onBytes?.(chunk.bytes, true);
      } else {
        await this.download(store, chunk, (n) => options.onBytes?.(n, false));
        downloaded++;
        bytesDownloaded += chunk.bytes;
      }
      options.onChunk?.(chunk);
    });
    return { downloaded, cached, bytesDownloaded };
  }

  private async isValid(chunk: SnapshotChunk): Promise<boolean> {
    const path = this.pathOf(chunk.sha256);
    const info = await stat(path).catch(() => undefined);
    if (!info || info.size !== chunk.bytes) return false;
    const hash = createHash("sha256");
    await pipeline(createReadStream(path), hash);
    if (hash.digest("hex") === chunk.sha256) return true;
    await rm(path, { force: true });
    return false;
  }

  private async download(store: BlobStore, chunk: SnapshotChunk, onBytes: (n: number) => void): Promise<void> {
    const key = snapshotKeys.chunk(chunk.sha256);
    const partial = `${this.pathOf(chunk.sha256)}.${process.pid}.part`;
    const hash = createHash("sha256");
    let size = 0;
    try {
      const body = await store.get(key);
      const counter = new Transform({
        transform(data: Buffer, _encoding, done) {
          hash.update(data);
          size += data.length;
          onBytes(data.length);
          done(null, data);
        },
      });
      await pipeline(body, counter, createWriteStream(partial));
      const digest = hash.digest("hex");
      if (size !== chunk.bytes || digest !== chunk.sha256) {
        throw new SnapshotError(
          "corrupt",
          `chunk ${chunk.sha256} from ${store.location} is corrupt: got ${size} bytes with sha256 ${digest}, expected ${chunk.bytes} bytes`,
        );
      }
      await rename(partial, this.pathOf(chunk.sha256));
    } catch (error) {
      await rm(partial, { force: true });
      if (error instanceof BlobNotFoundError) {
        throw new SnapshotError("not-found", `chunk ${chunk.sha256} is missing from ${store.location}`, { cause: error });
      }
      throw error;
    }
  }
}
