/**
 * A small seeded random source (sfc32, seeded by a cyrb128 hash of a key).
 * Every entity of the dataset draws from its own stream keyed by the seed and
 * the entity's identity, so the data does not depend on generation order or on
 * how many requests were in flight: same seed and arguments, same bytes.
 */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(key: string) {
    const [a, b, c, d] = cyrb128(key);
    this.a = a;
    this.b = b;
    this.c = c;
    this.d = d;
    // warm up: the first outputs of sfc32 correlate with the seed words
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A stream for one entity: `Random.for(seed, "org", 17, "leads")`. */
  static for(seed: string, ...parts: readonly (string | number)[]): Random {
    return new Random([seed, ...parts].join("\u241f"));
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: `[["a", 3], ["b", 1]]` yields "a" three times as often. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((sum, [, w]) => sum + w, 0);
    let roll = this.next() * total;
    for (const [value, weight] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return choices[choices.length - 1]![0];
  }

  /** `count` distinct items, in a random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    return this.shuffle(items).slice(0, Math.min(count, items.length));
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  digits(count: number): string {
    let out = "";
    for (let i = 0; i < count; i++) out += String(this.uint32() % 10);
    return out;
  }

  /** Characters drawn from `alphabet`. */
  chars(count: number, alphabet: string): string {
    let out = "";
    for (let i = 0; i < count; i++) out += alphabet[this.uint32() % alphabet.length];
    return out;
  }

  hex(count: number): string {
    return this.chars(count, "0123456789abcdef");
  }

  /** A random (version 4) UUID in its canonical text form. */
  uuid(): string {
    const h = this.hex(32).split("");
    h[12] = "4";
    h[16] = "89ab"[parseInt(h[16]!, 16) & 3]!;
    const s = h.join("");
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  }

  /**
   * A time-based (version 1) UUID for `epochMs`, with random sub-millisecond
   * ticks, clock sequence and node, so ids made for the same millisecond differ.
   */
  timeUuid(epochMs: number): string {
    // 100 ns intervals since 1582-10-15, the UUID epoch
    const time = (BigInt(epochMs) + 12_219_292_800_000n) * 10_000n + BigInt(this.int(0, 9999));
    const low = (time & 0xffffffffn).toString(16).padStart(8, "0");
    const mid = ((time >> 32n) & 0xffffn).toString(16).padStart(4, "0");
    const high = (((time >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, "0");
    const clock = ((this.uint32() & 0x3fff) | 0x8000).toString(16).padStart(4, "0");
    // random node ids set the multicast bit (RFC 4122, 4.5)
    const node = ((parseInt(this.hex(2), 16) | 0x01).toString(16).padStart(2, "0") + this.hex(10));
    return `${low}-${mid}-${high}-${clock}-${node}`;
  }
}

/** A 128-bit hash of a string, as four 32-bit words (cyrb128). */
function cyrb128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}
