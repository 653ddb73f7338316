/**
 * SipHash-2-4 (Aumasson & Bernstein), a keyed PRF for short inputs, in 32-bit
 * halves so it runs without BigInt. The Feistel permutations call it ten times
 * per value, where an HMAC per round would be ten times too slow.
 */

/** A 128-bit SipHash key as four little-endian 32-bit words: k0 low, k0 high, k1 low, k1 high. */
export type SipKey = Uint32Array;

export function sipKey(bytes: Uint8Array): SipKey {
  if (bytes.length < 16) throw new RangeError("a SipHash key needs 16 bytes");
  const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
  return Uint32Array.of(view.getUint32(0, true), view.getUint32(4, true), view.getUint32(8, true), view.getUint32(12, true));
}

// Scratch for the message words (low, high pairs) and the result; single-threaded, reused.
let scratch = new Uint32Array(64);
const result = new Uint32Array(2);

/**
 * Hashes `words` 64-bit message words (the final length block included) and
 * leaves the 64-bit tag in `result` as [low, high].
 */
function sipCore(key: SipKey, msg: Uint32Array, words: number): void {
  const k0l = key[0]!, k0h = key[1]!, k1l = key[2]!, k1h = key[3]!;
  let v0l = (k0l ^ 0x70736575) >>> 0, v0h = (k0h ^ 0x736f6d65) >>> 0;
  let v1l = (k1l ^ 0x6e646f6d) >>> 0, v1h = (k1h ^ 0x646f7261) >>> 0;
  let v2l = (k0l ^ 0x6e657261) >>> 0, v2h = (k0h ^ 0x6c796765) >>> 0;
  let v3l = (k1l ^ 0x79746573) >>> 0, v3h = (k1h ^ 0x74656462) >>> 0;
  let t = 0;
  for (let w = 0; w <= words; w++) {
    // after the message words come the finalisation rounds (v2 ^= 0xff, four rounds)
    const last = w === words;
    let ml = 0, mh = 0;
    if (last) v2l = (v2l ^ 0xff) >>> 0;
    else {
      ml = msg[2 * w]!;
      mh = msg[2 * w + 1]!;
      v3l = (v3l ^ ml) >>> 0;
      v3h = (v3h ^ mh) >>> 0;
    }
    for (let r = last ? 4 : 2; r > 0; r--) {
      // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
      t = (v0l + v1l) >>> 0; v0h = (v0h + v1h + (t < v0l ? 1 : 0)) >>> 0; v0l = t;
      t = ((v1l << 13) | (v1h >>> 19)) >>> 0; v1h = ((v1h << 13) | (v1l >>> 19)) >>> 0; v1l = t;
      v1l = (v1l ^ v0l) >>> 0; v1h = (v1h ^ v0h) >>> 0;
      t = v0l; v0l = v0h; v0h = t;
      // v2 += v3; v3 <<<= 16; v3 ^= v2
      t = (v2l + v3l) >>> 0; v2h = (v2h + v3h + (t < v2l ? 1 : 0)) >>> 0; v2l = t;
      t = ((v3l << 16) | (v3h >>> 16)) >>> 0; v3h = ((v3h << 16) | (v3l >>> 16)) >>> 0; v3l = t;
      v3l = (v3l ^ v2l) >>> 0; v3h = (v3h ^ v2h) >>> 0;
      // v0 += v3; v3 <<<= 21; v3 ^= v0
      t = (v0l + v3l) >>> 0; v0h = (v0h + v3h + (t < v0l ? 1 : 0)) >>> 0; v0l = t;
      t = ((v3l << 21) | (v3h >>> 11)) >>> 0; v3h = ((v3h << 21) | (v3l >>> 11)) >>> 0; v3l = t;
      v3l = (v3l ^ v0l) >>> 0; v3h = (v3h ^ v0h) >>> 0;
      // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
      t = (v2l + v1l) >>> 0; v2h = (v2h + v1h + (t < v2l ? 1 : 0)) >>> 0; v2l = t;
      t = ((v1l << 17) | (v1h >>> 15)) >>> 0; v1h = ((v1h << 17) | (v1l >>> 15)) >>> 0; v1l = t;
      v1l = (v1l ^ v2l) >>> 0; v1h = (v1h ^ v2h) >>> 0;
      t = v2l; v2l = v2h; v2h = t;
    }
    if (!last) {
      v0l = (v0l ^ ml) >>> 0;
      v0h = (v0h ^ mh) >>> 0;
    }
  }
  result[0] = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  result[1] = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
}

/** SipHash-2-4 of arbitrary bytes, as an unsigned 64-bit BigInt (reference vectors, tests, rare long inputs). */
export function sipHash24(key: SipKey, data: Uint8Array): bigint {
  const words = Math.floor(data.length / 8) + 1;
  if (scratch.length < words * 2) scratch = new Uint32Array(words * 2);
  const bytes = new Uint8Array(words * 8);
  bytes.set(data);
  bytes[words * 8 - 1] = data.length & 0xff;
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < words * 2; i++) scratch[i] = view.getUint32(i * 4, true);
  sipCore(key, scratch, words);
  return (BigInt(result[1]!) << 32n) | BigInt(result[0]!);
}

/**
 * SipHash-2-4 of a 16-byte message given as four 32-bit words (m0 low, m0 high,
 * m1 low, m1 high); returns the low 53 bits of the tag as an exact Number.
 */
export function sipHash53(key: SipKey, m0l: number, m0h: number, m1l: number, m1h: number): number {
  scratch[0] = m0l;
  scratch[1] = m0h;
  scratch[2] = m1l;
  scratch[3] = m1h;
  scratch[4] = 0;
  scratch[5] = 0x10000000; // length 16 in the top byte of the final block
  sipCore(key, scratch, 3);
  return (result[1]! & 0x1fffff) * 0x100000000 + result[0]!;
}

/** Same input as sipHash53, the full 64-bit tag (for the reference vectors). */
export function sipHash64Of16(key: SipKey, m0l: number, m0h: number, m1l: number, m1h: number): bigint {
  sipHash53(key, m0l, m0h, m1l, m1h);
  return (BigInt(result[1]!) << 32n) | BigInt(result[0]!);
}
