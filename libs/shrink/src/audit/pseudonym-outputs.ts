import { FingerprintTable, Fingerprinter, fingerprintFromHex, fingerprintWords } from "../scrub/fingerprint-table.ts";
import { withoutKeySuffix } from "../scrub/pseudonyms.ts";

/**
 * Every pseudonym the shrink wrote, so the audit does not take a fake that
 * happens to equal a real value ("Wei Silva" made up for one person, the real
 * name of another) for a leak. Held as keyed 128-bit fingerprints of the lower
 * case text: about 30 bytes a pseudonym outside the JS heap, where a Set of the
 * strings took over 100 in it. Case-insensitive, like the audit's comparison.
 */
export class PseudonymOutputs {
  readonly #fingerprinter: Fingerprinter;
  readonly #table = new FingerprintTable(0);
  readonly #scratch = new Uint32Array(fingerprintWords);

  /** The pseudonym secret: fingerprints of another secret never match these. */
  constructor(secret: Uint8Array) {
    this.#fingerprinter = new Fingerprinter(secret, "pseudonym-outputs");
  }

  get size(): number {
    return this.#table.size;
  }

  get byteLength(): number {
    return this.#table.byteLength;
  }

  /** Adds a pseudonym, and its bare form when it carries a key-mode suffix (the audit reads word runs). */
  add(pseudonym: string): void {
    this.#addLowerCase(pseudonym.toLowerCase());
    const bare = withoutKeySuffix(pseudonym);
    if (bare !== pseudonym) this.#addLowerCase(bare.toLowerCase());
  }

  /** Whether `text` (any case) is one of ours. */
  has(text: string): boolean {
    this.#fingerprinter.write(text.toLowerCase(), this.#scratch, 0);
    return this.#table.find(this.#scratch, 0) >= 0;
  }

  /** The fingerprints as hex, to merge the outputs of a shrink done in parts (see addFingerprint). */
  *fingerprints(): Generator<string> {
    for (const [key] of this.#table.hex()) yield key;
  }

  /** Adds a fingerprint of another instance's fingerprints() under the same secret. */
  addFingerprint(hex: string): void {
    fingerprintFromHex(hex, this.#scratch, 0);
    this.#table.add(this.#scratch, 0);
  }

  #addLowerCase(text: string): void {
    this.#fingerprinter.write(text, this.#scratch, 0);
    this.#table.add(this.#scratch, 0);
  }
}
