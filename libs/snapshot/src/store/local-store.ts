import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import type { Dirent } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { assertValidKey, assertValidPrefix, BlobNotFoundError, compareKeys, InvalidKeyError } from "./blob-store.ts";
import type { BlobStore } from "./blob-store.ts";

/** Large reads: the default 64 KiB makes a multi-GiB restore pay for many small syscalls. */
const readChunkBytes = 1024 * 1024;

/**
 * A store in a local directory (the embedded default). Keys map onto files below
 * `root`; the directory is created on the first put.
 */
export class LocalDirStore implements BlobStore {
  readonly location: string;
  readonly #root: string;

  constructor(root: string) {
    this.#root = path.resolve(root);
    this.location = this.#root;
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const file = this.#fileOf(key);
    try {
      const info = await stat(file);
      return info.isFile() ? { size: info.size } : undefined;
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.#fileOf(key);
    let handle: FileHandle;
    try {
      handle = await open(file, "r");
    } catch (error) {
      if (isMissing(error)) throw new BlobNotFoundError(this.location, key);
      throw error;
    }
    // open() succeeds on a directory; only a regular file is an object
    const info = await handle.stat().catch(async (error: unknown) => {
      await handle.close();
      throw error;
    });
    if (!info.isFile()) {
      await handle.close();
      throw new BlobNotFoundError(this.location, key);
    }
    return handle.createReadStream({ highWaterMark: readChunkBytes });
  }

  async put(key: string, body: Readable | Buffer, size?: number): Promise<void> {
    const file = this.#fileOf(key);
    if (Buffer.isBuffer(body) && size !== undefined && body.length !== size) {
      throw sizeMismatch(this.location, key, size, body.length);
    }
    const dir = path.dirname(file);
    await mkdir(dir, { recursive: true });
    // A dot-name beside the target: the same filesystem makes rename atomic, and
    // list() skips dot-names, which valid keys can never have.
    const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(8).toString("hex")}.tmp`);
    try {
      if (Buffer.isBuffer(body)) {
        await writeFile(temp, body, { flag: "wx" });
      } else {
        const out = createWriteStream(temp, { flags: "wx" });
        await pipeline(body, out);
        if (size !== undefined && out.bytesWritten !== size) {
          throw sizeMismatch(this.location, key, size, out.bytesWritten);
        }
      }
      // A present chunk is trusted, so after a crash the name must never point at
      // a file whose data had not reached the disk yet.
      const handle = await open(temp, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    // `chunks/ab` lists folder `chunks` for names starting with `ab`
    const slash = prefix.lastIndexOf("/");
    yield* this.#walk(slash < 0 ? "" : prefix.slice(0, slash), prefix.slice(slash + 1));
  }

  async delete(key: string): Promise<void> {
    const file = this.#fileOf(key);
    try {
      await unlink(file);
    } catch (error) {
      // a folder is not an object, so like a missing key there is nothing to delete
      if (isMissing(error) || errorCode(error) === "EISDIR") return;
      throw error;
    }
  }

  /** Yields keys below `dirKey` in byte order, keeping memory to one folder listing per level. */
  async *#walk(dirKey: string, namePrefix: string): AsyncGenerator<string> {
    const dir = dirKey === "" ? this.#root : path.join(this.#root, ...dirKey.split("/"));
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    // A folder sorts as `name/`: then walking folders in place gives the same order
    // as sorting the full keys (`a-b` < `a/x` < `a0`), which is what S3 returns.
    const children = entries
      .filter((e) => !e.name.startsWith(".") && e.name.startsWith(namePrefix) && (e.isFile() || e.isDirectory()))
      .map((e) => ({ name: e.name, isDir: e.isDirectory(), order: e.isDirectory() ? `${e.name}/` : e.name }))
      .sort((a, b) => compareKeys(a.order, b.order));
    for (const child of children) {
      const key = dirKey === "" ? child.name : `${dirKey}/${child.name}`;
      if (child.isDir) yield* this.#walk(key, "");
      else yield key;
    }
  }

  #fileOf(key: string): string {
    assertValidKey(key);
    const file = path.join(this.#root, ...key.split("/"));
    // The key rules already exclude this; a second check costs nothing.
    const relative = path.relative(this.#root, file);
    if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) {
      throw new InvalidKeyError(key, `it resolves outside ${this.#root}`);
    }
    return file;
  }
}

function sizeMismatch(location: string, key: string, expected: number, actual: number): Error {
  return new Error(`put ${key} to ${location}: expected ${expected} bytes but the body had ${actual}; nothing was written`);
}

function errorCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/** ENOTDIR: a path component is a file, so the key cannot exist either. */
function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === "ENOENT" || code === "ENOTDIR";
}
