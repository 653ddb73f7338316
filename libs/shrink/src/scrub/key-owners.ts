import { ShrinkError } from "../errors.ts";
import { FingerprintTable, Fingerprinter, fingerprintFromHex, fingerprintWords } from "./fingerprint-table.ts";

/**
 * Which original value each pseudonym of a key column came from: a pseudonym
 * shared by two distinct key values would silently merge two rows, so the second
 * claim fails the shrink. Held as keyed 128-bit fingerprints of
 * (column, pseudonym) → original: 46 to 92 bytes a key outside the JS heap,
 * against some 200 for a Map of the strings in it, and no original value kept
 * in clear. A false alarm or a missed collision needs two 128-bit fingerprints
 * to meet: about 2^-127 a pair.
 */
export class KeyOwners {
  readonly #owners: Fingerprinter;
  readonly #originals: Fingerprinter;
  readonly #table = new FingerprintTable(fingerprintWords);
  readonly #scratch = new Uint32Array(2 * fingerprintWords);

  /** The pseudonym secret: fingerprints of another secret never match these. */
  constructor(secret: Uint8Array) {
    this.#owners = new Fingerprinter(secret, "key-owners/owner");
    this.#originals = new Fingerprinter(secret, "key-owners/original");
  }

  get size(): number {
    return this.#table.size;
  }

  get byteLength(): number {
    return this.#table.byteLength;
  }

  /**
   * Records that `pseudonym` in key column `column` (e.g. "leads.email") stands
   * for `original`; throws when it already stands for another value. Both are
   * compared as given, e.g. as JSON of the cell.
   */
  claim(column: string, pseudonym: string, original: string): void {
    this.#owners.write(`${column}\u0000${pseudonym}`, this.#scratch, 0);
    this.#originals.write(original, this.#scratch, fingerprintWords);
    if (!this.#claimScratch()) {
      throw new ShrinkError("failed", `pseudonym collision in key column ${column}: two distinct values map to ${pseudonym}`);
    }
  }

  /** Every claim as hex fingerprints [owner, original], to merge the claims of a shrink done in parts. */
  *entries(): Generator<[string, string]> {
    for (const [owner, original] of this.#table.hex()) yield [owner, original!];
  }

  /** Adds a claim of another instance's entries() under the same secret; throws on a collision as claim does. */
  claimFingerprints(ownerHex: string, originalHex: string): void {
    fingerprintFromHex(ownerHex, this.#scratch, 0);
    fingerprintFromHex(originalHex, this.#scratch, fingerprintWords);
    if (!this.#claimScratch()) {
      throw new ShrinkError("failed", "pseudonym collision in a key column: two parts of the shrink map distinct values to one pseudonym");
    }
  }

  #claimScratch(): boolean {
    const slot = this.#table.find(this.#scratch, 0);
    if (slot < 0) {
      this.#table.add(this.#scratch, 0, this.#scratch, fingerprintWords);
      return true;
    }
    return this.#table.valueEquals(slot, this.#scratch, fingerprintWords);
  }
}
