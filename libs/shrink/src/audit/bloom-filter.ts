import { createHash } from "node:crypto";

export interface BloomFilterSize {
  bits: number;
  hashes: number;
  bytes: number;
}

// Each layer holds twice the values of the one before at half its false-positive rate,
// so the rates sum to at most the filter's whatever the number of layers.
const growth = 2;
const tightening = 0.5;
// toBytes() format: magic, then per layer its capacity, values, byte length and bits
const formatMagic = 0x424c4632; // "BLF2"

interface Layer {
  capacity: number;
  bits: number;
  hashes: number;
  words: Uint8Array;
  count: number;
}

/**
 * A set of strings that answers "maybe present" or "certainly absent" in
 * ~1.44·log2(1/p) bits per value: the audit keeps every source PII value
 * (normalised by the caller) without keeping the values. A million values at
 * p = 1e-9 take 5.3 MiB.
 *
 * It grows with what it holds: past its capacity it adds a layer twice as
 * large at half the false-positive rate (a scalable Bloom filter, Almeida et
 * al.), so the rate stays under p at any size and memory follows the values
 * actually added. A fixed filter filled to twice its capacity would answer
 * "maybe" 2·10^-4 of the time instead of 10^-9, and the audit would report
 * hundreds of leaks that are not there.
 *
 * Indexes come from two seeded 53-bit hashes of the value by enhanced double
 * hashing (Dillinger & Manolios), so k probes cost two passes over the string.
 * The hash is a fast non-cryptographic one (the audit probes every word run
 * of every cell: a SHA-256 per probe was half of a shrink's CPU); the filter
 * never leaves the process, and a salt gives each filter its own seeds. A test
 * stops at the first clear bit: in a filter filled to capacity half the bits
 * are clear, so an absent value costs two probes a layer on average, not k.
 */
export class BloomFilter {
  readonly #falsePositiveRate: number;
  readonly #layers: Layer[] = [];
  // layers merged from other filters (unionWith): tested, never added to
  readonly #merged: Layer[] = [];
  readonly #seedA: number;
  readonly #seedB: number;
  #count = 0;

  constructor(capacity: number, falsePositiveRate: number, options: { salt?: Uint8Array } = {}) {
    BloomFilter.sizeFor(capacity, falsePositiveRate);
    this.#falsePositiveRate = falsePositiveRate;
    this.#layers.push(newLayer(capacity, falsePositiveRate * (1 - tightening)));
    const seeds = createHash("sha256").update(options.salt ?? new Uint8Array(0)).digest();
    this.#seedA = seeds.readUInt32LE(0);
    this.#seedB = seeds.readUInt32LE(4);
  }

  /** Optimal size for `capacity` values at `falsePositiveRate`: m = −n·ln p / (ln 2)², k = (m/n)·ln 2. */
  static sizeFor(capacity: number, falsePositiveRate: number): BloomFilterSize {
    if (!(capacity >= 1) || !Number.isFinite(capacity)) throw new RangeError(`capacity must be a positive number, not ${capacity}`);
    if (!(falsePositiveRate > 0 && falsePositiveRate < 1)) throw new RangeError(`falsePositiveRate must be in (0, 1), not ${falsePositiveRate}`);
    const bits = Math.max(64, Math.ceil((-capacity * Math.log(falsePositiveRate)) / Math.LN2 ** 2));
    const hashes = Math.max(1, Math.round((bits / capacity) * Math.LN2));
    return { bits, hashes, bytes: Math.ceil(bits / 8) };
  }

  /** Values added that were not (as far as the filter can tell) already present. */
  get count(): number {
    return this.#count;
  }

  /** Probes of the first layer (later ones take one or two more each). */
  get hashes(): number {
    return this.#layers[0]!.hashes;
  }

  get sizeBytes(): number {
    return [...this.#layers, ...this.#merged].reduce((n, layer) => n + layer.words.byteLength, 0);
  }

  /** Layers in use: 1 until the first capacity is passed. */
  get layerCount(): number {
    return this.#layers.length + this.#merged.length;
  }

  /** Adds a value; true if it was not already (maybe) present. */
  add(value: string): boolean {
    const a = hash53(value, this.#seedA);
    const b = hash53(value, this.#seedB);
    if (this.#anyHas(a, b)) return false;
    let layer = this.#layers[this.#layers.length - 1]!;
    if (layer.count >= layer.capacity) {
      layer = newLayer(layer.capacity * growth, layerRate(this.#falsePositiveRate, this.#layers.length));
      this.#layers.push(layer);
    }
    setAll(layer, a, b);
    layer.count++;
    this.#count++;
    return true;
  }

  /** False: certainly never added. True: added, or a false positive (rate ≤ the configured one, at any size). */
  has(value: string): boolean {
    return this.#anyHas(hash53(value, this.#seedA), hash53(value, this.#seedB));
  }

  /** The filter, to carry a filter filled in parts to one process (see unionWith). */
  toBytes(): Uint8Array {
    const layers = [...this.#layers, ...this.#merged];
    const header = 8;
    const perLayer = 4 * 8;
    const out = Buffer.alloc(header + layers.reduce((n, l) => n + perLayer + l.words.byteLength, 0));
    out.writeUInt32LE(formatMagic, 0);
    out.writeUInt32LE(layers.length, 4);
    let at = header;
    for (const layer of layers) {
      out.writeDoubleLE(layer.capacity, at);
      out.writeDoubleLE(layer.count, at + 8);
      out.writeDoubleLE(layer.bits, at + 16);
      out.writeDoubleLE(layer.hashes, at + 24);
      out.set(layer.words, at + perLayer);
      at += perLayer + layer.words.byteLength;
    }
    return out;
  }

  /**
   * Adds every value of another filter of the same salt, given by its toBytes().
   * A layer the same size as one of ours joins it when both together stay within
   * its capacity; otherwise it is kept as a layer of its own, so merging parts
   * never overfills a layer (the false-positive rate is then at most the sum of
   * the parts').
   */
  unionWith(bytes: Uint8Array, count: number): void {
    const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (data.byteLength < 8 || data.readUInt32LE(0) !== formatMagic) throw new RangeError("not the bytes of a BloomFilter (toBytes)");
    let at = 8;
    for (let i = data.readUInt32LE(4); i > 0; i--) {
      if (at + 32 > data.byteLength) throw new RangeError("truncated BloomFilter bytes");
      const capacity = data.readDoubleLE(at);
      const layerCount = data.readDoubleLE(at + 8);
      const bits = data.readDoubleLE(at + 16);
      const hashes = data.readDoubleLE(at + 24);
      const length = Math.ceil(bits / 8);
      if (at + 32 + length > data.byteLength) throw new RangeError("truncated BloomFilter bytes");
      const words = data.subarray(at + 32, at + 32 + length);
      at += 32 + length;
      if (layerCount === 0) continue;
      const same = [...this.#layers, ...this.#merged].find((l) => l.bits === bits && l.hashes === hashes && l.count + layerCount <= l.capacity);
      if (same) {
        for (let w = 0; w < length; w++) same.words[w] = same.words[w]! | words[w]!;
        same.count += layerCount;
      } else {
        this.#merged.push({ capacity, bits, hashes, words: Uint8Array.from(words), count: layerCount });
      }
    }
    this.#count += count;
  }

  #anyHas(a: number, b: number): boolean {
    for (const layer of this.#layers) if (layer.count > 0 && testAll(layer, a, b)) return true;
    for (const layer of this.#merged) if (testAll(layer, a, b)) return true;
    return false;
  }
}

function newLayer(capacity: number, falsePositiveRate: number): Layer {
  const size = BloomFilter.sizeFor(capacity, falsePositiveRate);
  return { capacity, bits: size.bits, hashes: size.hashes, words: new Uint8Array(size.bytes), count: 0 };
}

/** The false-positive rate of layer `index`: p·(1 − r)·r^index, which sums to p over all layers. */
function layerRate(falsePositiveRate: number, index: number): number {
  return falsePositiveRate * (1 - tightening) * tightening ** index;
}

// enhanced double hashing: index_i+1 = index_i + step_i, step_i+1 = step_i + i + 1 (mod m); both stay below m

function setAll(layer: Layer, a: number, b: number): void {
  const { words, bits: m, hashes } = layer;
  let index = a % m;
  let step = b % m;
  for (let i = 0; i < hashes; i++) {
    const byte = Math.floor(index / 8);
    words[byte] = words[byte]! | (1 << (index % 8));
    index += step;
    if (index >= m) index -= m;
    step += i + 1;
    if (step >= m) step -= m;
  }
}

function testAll(layer: Layer, a: number, b: number): boolean {
  const { words, bits: m, hashes } = layer;
  let index = a % m;
  let step = b % m;
  for (let i = 0; i < hashes; i++) {
    if ((words[Math.floor(index / 8)]! & (1 << (index % 8))) === 0) return false;
    index += step;
    if (index >= m) index -= m;
    step += i + 1;
    if (step >= m) step -= m;
  }
  return true;
}

/**
 * A 53-bit string hash with two 32-bit lanes multiplied per UTF-16 unit and a
 * final avalanche (the well-known "cyrb53" construction): fast in JS, and well
 * enough spread for Bloom probes, as the false-positive test measures.
 */
function hash53(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
