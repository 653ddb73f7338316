import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { createGzip, constants } from "node:zlib";

export interface WrittenChunk {
  sha256: string;
  rows: number;
  bytes: number;
  rawBytes: number;
}

// Lines are handed to gzip in blocks of about this many characters: each write
// is a round trip to the thread pool, too costly per line of a million-row chunk.
const blockChars = 64 * 1024;

/**
 * Writes NDJSON lines into a gzip file while hashing the compressed bytes.
 * Node's gzip header carries no timestamp or name, so equal lines give equal bytes.
 */
export class ChunkWriter {
  private readonly gzip = createGzip({ level: 6, memLevel: 8, strategy: constants.Z_DEFAULT_STRATEGY });
  private readonly hash = createHash("sha256");
  private readonly file;
  private rows = 0;
  private rawBytes = 0;
  private bytes = 0;
  private block = "";
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.file = createWriteStream(path);
    this.gzip.on("data", (data: Buffer) => {
      this.hash.update(data);
      this.bytes += data.length;
    });
    this.gzip.pipe(this.file);
  }

  /** Resolves when the gzip stream can take more (backpressure). */
  async writeLine(line: string): Promise<void> {
    this.rows++;
    this.block += `${line}\n`;
    if (this.block.length >= blockChars) await this.flushBlock();
  }

  get rowCount(): number {
    return this.rows;
  }

  async finish(): Promise<WrittenChunk & { path: string }> {
    await this.flushBlock();
    const closed = once(this.file, "close");
    this.gzip.end();
    await closed;
    return { path: this.path, sha256: this.hash.digest("hex"), rows: this.rows, bytes: this.bytes, rawBytes: this.rawBytes };
  }

  private async flushBlock(): Promise<void> {
    if (this.block.length === 0) return;
    const data = Buffer.from(this.block);
    this.block = "";
    this.rawBytes += data.byteLength;
    if (!this.gzip.write(data)) await once(this.gzip, "drain");
  }

  /** Abandons the chunk (the caller removes the file). */
  destroy(): void {
    this.block = "";
    this.gzip.destroy();
    this.file.destroy();
  }
}
