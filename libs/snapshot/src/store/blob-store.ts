import type { Readable } from "node:stream";

/**
 * Where snapshots live. Keys are relative paths such as
 * `snapshots/<id>/manifest.json` or `chunks/<sha256>`; a store maps them onto a
 * directory or an S3 prefix. Bodies always stream: chunks can be large.
 *
 * Every method validates its key (see assertValidKey) and rejects with
 * InvalidKeyError before touching storage.
 */
export interface BlobStore {
  /** Human-readable location, e.g. `/var/devenv/store` or `s3://bucket/prefix`. */
  readonly location: string;
  /** Size in bytes, or undefined when the key does not exist. */
  head(key: string): Promise<{ size: number } | undefined>;
  /**
   * Streams the object; rejects with BlobNotFoundError when missing. The caller
   * must consume or destroy the stream, or it holds a file or a connection.
   */
  get(key: string): Promise<Readable>;
  /**
   * Writes the object atomically: readers never see a partial object, and a
   * failed put leaves the previous object (if any) in place. When `size` is given
   * and the body has another length, the put fails and nothing is written.
   */
  put(key: string, body: Readable | Buffer, size?: number): Promise<void>;
  /**
   * Keys starting with `prefix` (a plain string prefix, not only whole folders:
   * `chunks/ab` matches `chunks/abc`), recursively, in lexicographic order of
   * their UTF-8 bytes (S3's order).
   */
  list(prefix: string): AsyncIterable<string>;
  /** Removes the object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
}

export class BlobNotFoundError extends Error {
  readonly key: string;
  constructor(location: string, key: string) {
    super(`not found in ${location}: ${key}`);
    this.name = "BlobNotFoundError";
    this.key = key;
  }
}

export class InvalidKeyError extends Error {
  readonly key: string;
  constructor(key: string, reason: string) {
    super(
      `invalid blob key ${JSON.stringify(key)}: ${reason}; ` +
        "use relative '/'-separated names such as chunks/<sha256>",
    );
    this.name = "InvalidKeyError";
    this.key = key;
  }
}

/**
 * The same rules for every store, so a key that works on a laptop works on S3
 * and no key can escape a local store's directory: relative, '/'-separated,
 * non-empty segments that do not start with '.' (rules out `.` and `..`, and
 * keeps dot-names free for a store's temporary files), no backslashes or NULs.
 */
export function assertValidKey(key: string): void {
  checkPath(key, key);
}

/** A list prefix follows the key rules but may be empty or end with '/'. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "") return;
  checkPath(prefix, prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

function checkPath(original: string, path: string): void {
  if (path === "") throw new InvalidKeyError(original, "it is empty");
  if (path.startsWith("/")) throw new InvalidKeyError(original, "it is absolute");
  if (path.includes("\\")) throw new InvalidKeyError(original, "it contains a backslash");
  if (path.includes("\0")) throw new InvalidKeyError(original, "it contains a NUL character");
  for (const segment of path.split("/")) {
    if (segment === "") throw new InvalidKeyError(original, "it has an empty segment");
    if (segment === "..") throw new InvalidKeyError(original, "it has a '..' segment");
    if (segment.startsWith(".")) throw new InvalidKeyError(original, "a segment starts with '.'");
  }
}

/** Orders keys as S3 lists them: by their UTF-8 bytes. */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // below the surrogates UTF-16 order is code point order, which is UTF-8 byte order
    if (x < 0xd800 && y < 0xd800) return x - y;
    return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
  }
  return a.length - b.length;
}
