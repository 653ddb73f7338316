/**
 * A fast seeded 64-bit hash of strings, two multiplicative lanes over the code
 * units mixed at the end. Seeds come from the pseudonym secret, so nobody can
 * pick strings whose fingerprints meet; a search can grow it code unit by code
 * unit (see KnownValues).
 */
export function fingerprint64(text: string, seedA: number, seedB: number, out: Uint32Array): void {
  let h1 = seedA;
  let h2 = seedB;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  mixLanes(h1, h2, out);
}

/** The two lanes mixed into each other (the "cyrb53" avalanche, kept to 64 bits), as two words in out[0] and out[1]. */
export function mixLanes(h1: number, h2: number, out: Uint32Array): void {
  let a = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  a ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  let b = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  b ^= Math.imul(a ^ (a >>> 13), 3266489909);
  out[0] = a >>> 0;
  out[1] = b >>> 0;
}
