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
    const data = `${line}\n`;
    this.rawBytes += Buffer.byteLength(data);
    if (!this.gzip.write(data)) await once(this.gzip, "drain");
  }

  get rowCount(): number {
    return this.rows;
  }

  async finish(): Promise<WrittenChunk & { path: string }> {
    const closed = once(this.file, "close");
    this.gzip.end();
    await closed;
    return { path: this.path, sha256: this.hash.digest("hex"), rows: this.rows, bytes: this.bytes, rawBytes: this.rawBytes };
  }

  /** Abandons the chunk (the caller removes the file). */
  destroy(): void {
    this.gzip.destroy();
    this.file.destroy();
  }
}
