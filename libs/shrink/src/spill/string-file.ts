import { closeSync, openSync, readSync, rmSync, writeSync } from "node:fs";

const bufferBytes = 64 * 1024;

/**
 * Append-only strings in a file (UTF-8): a string is known by a handle of three
 * 32-bit words written where the caller asks (offset low, offset high, byte
 * length) and read back with one read. Memory holds one write buffer.
 */
export class StringFile {
  readonly path: string;
  #fd: number | undefined;
  readonly #buffer = Buffer.allocUnsafe(bufferBytes);
  #buffered = 0;
  // bytes in the file (the buffer's come after)
  #written = 0;
  #read = Buffer.allocUnsafe(256);

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, "w+");
  }

  /** Bytes of strings appended. */
  get size(): number {
    return this.#written + this.#buffered;
  }

  /** Appends `text`; writes its handle to out[at], out[at + 1] and out[at + 2]. */
  append(text: string, out: Uint32Array, at: number): void {
    const bytes = Buffer.byteLength(text);
    const offset = this.size;
    // a full buffer is flushed even for an empty string: Buffer.write refuses an offset at its end
    if (bytes >= bufferBytes - this.#buffered) this.#flush();
    if (bytes > bufferBytes) this.#writeAll(Buffer.from(text));
    else if (bytes > 0) this.#buffered += this.#buffer.write(text, this.#buffered);
    out[at] = offset % 2 ** 32;
    out[at + 1] = Math.floor(offset / 2 ** 32);
    out[at + 2] = bytes;
  }

  /** The string of a handle (handle[at] … handle[at + 2]). */
  get(handle: Uint32Array, at: number): string {
    const offset = handle[at]! + handle[at + 1]! * 2 ** 32;
    const bytes = handle[at + 2]!;
    if (offset + bytes > this.#written) this.#flush();
    if (this.#read.length < bytes) this.#read = Buffer.allocUnsafe(Math.max(bytes, this.#read.length * 2));
    const got = readSync(this.#open(), this.#read, 0, bytes, offset);
    if (got !== bytes) throw new Error(`${this.path}: short read (${got} of ${bytes} bytes)`);
    return this.#read.toString("utf8", 0, bytes);
  }

  /** Closes and removes the file. */
  remove(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    rmSync(this.path, { force: true });
  }

  #flush(): void {
    if (this.#buffered === 0) return;
    this.#writeAll(this.#buffer.subarray(0, this.#buffered));
    this.#buffered = 0;
  }

  #writeAll(bytes: Uint8Array): void {
    const fd = this.#open();
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, this.#written + done);
    this.#written += bytes.length;
  }

  #open(): number {
    if (this.#fd === undefined) throw new Error(`${this.path}: removed`);
    return this.#fd;
  }
}
