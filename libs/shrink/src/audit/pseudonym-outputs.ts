import { FingerprintSet } from "../spill/fingerprint-set.ts";
import { Fingerprinter, fingerprintWords } from "../scrub/fingerprinter.ts";
import { withoutKeySuffix } from "../scrub/pseudonyms.ts";

/**
 * Every pseudonym the shrink wrote, so the audit does not take a fake that
 * happens to equal a real value ("Wei Silva" made up for one person, the real
 * name of another) for a leak. Held as keyed 128-bit fingerprints of the lower
 * case text on disk (see FingerprintSet): fixed memory while the first pass
 * adds, a few bytes a pseudonym while the audit asks (only about candidate
 * leaks: rarely). Case-insensitive, like the audit's comparison.
 */
export class PseudonymOutputs {
  readonly #fingerprinter: Fingerprinter;
  readonly #set: FingerprintSet;
  readonly #scratch = new Uint32Array(fingerprintWords);

  /** The pseudonym secret: fingerprints of another secret never match these. */
  constructor(secret: Uint8Array, dir: string) {
    this.#fingerprinter = new Fingerprinter(secret, "pseudonym-outputs");
    this.#set = new FingerprintSet({ dir, name: "pseudonym-outputs", words: fingerprintWords, maxPrefilterBytes: 1 << 20 });
  }

  /** Distinct pseudonyms, once sealed. */
  get size(): number {
    return this.#set.size;
  }

  get byteLength(): number {
    return this.#set.byteLength;
  }

  /** Adds a pseudonym, and its bare form when it carries a key-mode suffix (the audit reads word runs). */
  add(pseudonym: string): void {
    this.#addLowerCase(pseudonym.toLowerCase());
    const bare = withoutKeySuffix(pseudonym);
    if (bare !== pseudonym) this.#addLowerCase(bare.toLowerCase());
  }

  /** Ends the adding; has() answers from then on. */
  seal(): void {
    this.#set.seal();
  }

  /** Whether `text` (any case) is one of ours. */
  has(text: string): boolean {
    this.#fingerprinter.write(text.toLowerCase(), this.#scratch, 0);
    return this.#set.has(this.#scratch);
  }

  /** The fingerprints in batches, to merge the outputs of a shrink done in parts (see addBatch). */
  batches(): Generator<string> {
    return this.#set.batches();
  }

  /** Adds a batch of another instance's batches() under the same secret. */
  addBatch(base64: string): void {
    this.#set.addBatch(base64);
  }

  close(): void {
    this.#set.close();
  }

  #addLowerCase(text: string): void {
    this.#fingerprinter.write(text, this.#scratch, 0);
    this.#set.add(this.#scratch);
  }
}
