const blockBytes = 1 << 20;

/**
 * Append-only strings packed into 1 MiB buffers, outside the JS heap: one byte
 * per character when every code unit fits in Latin-1 (folded values and our
 * pseudonyms nearly always do), two otherwise. A JS string costs a header of
 * 16 to 24 bytes and two bytes per character for anything outside Latin-1;
 * a hundred thousand short values here take their characters and nothing else.
 *
 * A string is known by a handle of two 32-bit words, written where the caller
 * asks: its position (block · 2^20 + offset) and its length · 2 + wide. Bytes
 * are never moved or overwritten, so a handle stays valid for good.
 */
export class PackedStrings {
  readonly #blocks: Buffer[] = [];
  #used = blockBytes;
  #bytes = 0;

  /** Bytes held by the blocks (allocated, not only used). */
  get byteLength(): number {
    return this.#bytes;
  }

  /** Appends `text` and writes its handle to `out[at]` and `out[at + 1]`. */
  append(text: string, out: Uint32Array, at: number): void {
    const wide = !isLatin1(text);
    const bytes = wide ? text.length * 2 : text.length;
    if (text.length * 2 + 1 > 0xffffffff) throw new RangeError(`a packed string holds at most 2^31 characters, not ${text.length}`);
    if (this.#blocks.length === 0 || this.#used + bytes > blockBytes) {
      // a string longer than a block gets a block of its own
      const block = Buffer.allocUnsafeSlow(Math.max(blockBytes, bytes));
      if (this.#blocks.length >= 4096) throw new RangeError("packed strings are full (4 GiB)");
      this.#blocks.push(block);
      this.#bytes += block.byteLength;
      this.#used = 0;
    }
    const blockIndex = this.#blocks.length - 1;
    this.#blocks[blockIndex]!.write(text, this.#used, wide ? "utf16le" : "latin1");
    out[at] = blockIndex * blockBytes + this.#used;
    out[at + 1] = text.length * 2 + (wide ? 1 : 0);
    this.#used += bytes;
  }

  /** The string of a handle. */
  get(position: number, lengthAndWidth: number): string {
    const block = this.#blocks[Math.floor(position / blockBytes)]!;
    const offset = position % blockBytes;
    const length = lengthAndWidth >>> 1;
    return lengthAndWidth & 1 ? block.toString("utf16le", offset, offset + length * 2) : block.toString("latin1", offset, offset + length);
  }

  /** The code unit at `index` of a handle's string. */
  codeAt(position: number, lengthAndWidth: number, index: number): number {
    const block = this.#blocks[Math.floor(position / blockBytes)]!;
    const offset = position % blockBytes;
    return lengthAndWidth & 1 ? block.readUInt16LE(offset + 2 * index) : block[offset + index]!;
  }

  /** Orders two handles' strings by code unit, as `<` orders JS strings. */
  compare(positionA: number, lengthAndWidthA: number, positionB: number, lengthAndWidthB: number): number {
    const lengthA = lengthAndWidthA >>> 1;
    const lengthB = lengthAndWidthB >>> 1;
    const n = Math.min(lengthA, lengthB);
    for (let i = 0; i < n; i++) {
      const d = this.codeAt(positionA, lengthAndWidthA, i) - this.codeAt(positionB, lengthAndWidthB, i);
      if (d !== 0) return d;
    }
    return lengthA - lengthB;
  }

  /** Whether the string of a handle equals `text`, without building a string. */
  equals(position: number, lengthAndWidth: number, text: string): boolean {
    const length = lengthAndWidth >>> 1;
    if (length !== text.length) return false;
    const block = this.#blocks[Math.floor(position / blockBytes)]!;
    const offset = position % blockBytes;
    if (lengthAndWidth & 1) {
      for (let i = 0; i < length; i++) if (block.readUInt16LE(offset + 2 * i) !== text.charCodeAt(i)) return false;
    } else {
      for (let i = 0; i < length; i++) if (block[offset + i] !== text.charCodeAt(i)) return false;
    }
    return true;
  }
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}
