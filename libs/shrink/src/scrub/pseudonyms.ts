import { createHmac, hash } from "node:crypto";
import { ShrinkError } from "../errors.ts";
import { DigitPermutation, IntegerPermutation } from "./format-preserving.ts";
import { normalizeEmail, normalizeName, normalizePhone } from "./normalize.ts";
import { sipKey } from "./siphash.ts";
import { COMPANY_NOUNS, COMPANY_SUFFIXES, COMPANY_WORDS, FIRST_NAMES, LAST_NAMES, STREET_NAMES, STREET_SUFFIXES } from "./word-lists.ts";

/**
 * RFC 2606 reserves these second-level domains for documentation: mail to them
 * can never reach a person. Chosen by hash so fakes look varied.
 */
export const EMAIL_DOMAINS: readonly string[] = ["example.com", "example.net", "example.org"];
/** RFC 6761 / RFC 2606 special-use top-level domains; an address under them is nobody's. */
const RESERVED_TLDS = new Set(["test", "example", "invalid", "localhost"]);

/**
 * +999 is not assigned to any country or service in ITU-T E.164 (it is held in
 * reserve for a future global service), so a "+999 …" number rings nowhere.
 */
export const PHONE_MARKER = "+999";
// Below this many digits a permutation has too small a domain to hide anything; those values are hashed.
const MIN_PERMUTED_DIGITS = 4;

// 13 base32 characters = 65 bits of HMAC: 1M distinct emails collide with probability ~1e-8.
const EMAIL_TAG_CHARS = 13;
// 10 base32 characters = 50 bits, on top of the words: the key-mode suffix of names, companies, addresses.
const KEY_TAG_CHARS = 10;
const KEY_SUFFIX = / [a-z2-7]{10}$/;

/** Well-known test card numbers (Luhn-valid, accepted only by payment sandboxes). */
const TEST_CARDS: readonly string[] = [
  "4111111111111111", "4242424242424242", "4012888888881881", "4000056655665556",
  "5555555555554444", "5105105105105100", "2223003122003222", "378282246310005",
  "371449635398431", "6011111111111117", "6011000990139424", "3056930009020004",
  "36227206271667", "3566002020360505", "6200000000000005",
];
const TEST_CARD_SET = new Set(TEST_CARDS);

const REDACTED = "[redacted]";
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const FIRST_NAMES_LOWER = FIRST_NAMES.map((n) => n.toLowerCase());
const LAST_NAMES_LOWER = LAST_NAMES.map((n) => n.toLowerCase());
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface KeyOption {
  /**
   * The value is (part of) a primary key: names, companies and addresses get a
   * 50-bit suffix so two distinct inputs never merge two rows. Emails always
   * carry 65 bits and phones are a permutation, so for them it changes nothing.
   */
  key?: boolean;
}

/**
 * Deterministic pseudonyms under one secret: the same input (after
 * normalisation) gives the same output in every column, table, process and
 * run, so joins survive; another secret gives unrelated outputs. Every output
 * comes from HMAC-SHA-256 under a key derived from the secret (or a Feistel
 * permutation keyed the same way); the secret itself never appears.
 */
export class Pseudonyms {
  readonly #email: Hmac;
  readonly #person: Hmac;
  readonly #company: Hmac;
  readonly #address: Hmac;
  readonly #phoneShort: Hmac;
  readonly #card: Hmac;
  readonly #text: Hmac;
  readonly #bytes: Hmac;
  readonly #uuid: Hmac;
  readonly #digits: DigitPermutation;
  readonly #integers: Map<number, IntegerPermutation>;

  constructor(secret: Buffer) {
    if (secret.length < 16) throw new ShrinkError("secret-missing", "the pseudonym secret must be at least 16 bytes");
    // one derived key per purpose, so no output of one transform says anything about another
    const derive = (purpose: string) => createHmac("sha256", secret).update(`devenv/pseudonyms/v1/${purpose}`).digest();
    this.#email = new Hmac(derive("email"));
    this.#person = new Hmac(derive("person"));
    this.#company = new Hmac(derive("company"));
    this.#address = new Hmac(derive("address"));
    this.#phoneShort = new Hmac(derive("phone-short"));
    this.#card = new Hmac(derive("card"));
    this.#text = new Hmac(derive("hash-text"));
    this.#bytes = new Hmac(derive("hash-bytes"));
    this.#uuid = new Hmac(derive("hash-uuid"));
    this.#digits = new DigitPermutation(sipKey(derive("phone-permutation")));
    const integerKey = sipKey(derive("integer-permutation"));
    this.#integers = new Map(([8, 16, 32, 64] as const).map((bits) => [bits, new IntegerPermutation(integerKey, bits)]));
  }

  /** `first.last.<13 base32>@example.{com,net,org}`; an empty value stays as it is. */
  email(value: string, _options: KeyOption = {}): string {
    const normal = normalizeEmail(value);
    if (normal === "") return value;
    const h = this.#email.digest(normal);
    return `${pick(FIRST_NAMES_LOWER, h, 0)}.${pick(LAST_NAMES_LOWER, h, 2)}.${base32(h, 6, EMAIL_TAG_CHARS)}@${pick(EMAIL_DOMAINS, h, 4)}`;
  }

  /**
   * `+999 <L digits>`: the L normalised digits through a keyed permutation of
   * all L-digit strings, so distinct numbers never share a pseudonym. Fewer than
   * 4 digits (extensions, "n/a") become `+999-<10 hashed digits>`, a shape no
   * permuted number has.
   */
  phone(value: string): string {
    const digits = normalizePhone(value);
    if (digits.length >= MIN_PERMUTED_DIGITS) return `${PHONE_MARKER} ${this.#digits.permute(digits)}`;
    const trimmed = value.trim();
    if (trimmed === "") return value;
    const h = this.#phoneShort.digest(trimmed.toLowerCase());
    return `${PHONE_MARKER}-${decimal(h, 10)}`;
  }

  /** The pseudonym phone as digits only ("999…", never a leading zero), for numbers stored as numbers. */
  phoneDigits(value: string): string {
    return normalizePhone(this.phone(value));
  }

  /** Tests only: the normalised digits a `+999 …` pseudonym came from (proves the permutation is a bijection). */
  phoneInverseForTests(pseudonym: string): string {
    const match = /^\+999 (\d+)$/.exec(pseudonym);
    if (!match) throw new RangeError(`${pseudonym} is not a permuted phone pseudonym`);
    return this.#digits.invert(match[1]!);
  }

  /** "First Last" (a single-word input gives a single first name). */
  person(value: string, options: KeyOption = {}): string {
    const normal = normalizeName(value);
    if (normal === "") return value;
    const h = this.#person.digest(normal);
    const name = normal.includes(" ") ? `${pick(FIRST_NAMES, h, 0)} ${pick(LAST_NAMES, h, 2)}` : pick(FIRST_NAMES, h, 0);
    return withKey(name, h, options);
  }

  /** "Word Noun Suffix", e.g. "Cedar Logistics GmbH". */
  company(value: string, options: KeyOption = {}): string {
    const normal = normalizeName(value);
    if (normal === "") return value;
    const h = this.#company.digest(normal);
    return withKey(`${pick(COMPANY_WORDS, h, 0)} ${pick(COMPANY_NOUNS, h, 2)} ${pick(COMPANY_SUFFIXES, h, 4)}`, h, options);
  }

  /** "<1-9999> Street Suffix", e.g. "742 Maple Crescent". */
  address(value: string, options: KeyOption = {}): string {
    const normal = normalizeName(value);
    if (normal === "") return value;
    const h = this.#address.digest(normal);
    const number = 1 + (((h[0]! << 8) | h[1]!) % 9999);
    return withKey(`${number} ${pick(STREET_NAMES, h, 2)} ${pick(STREET_SUFFIXES, h, 4)}`, h, options);
  }

  /** A well-known test card number chosen by the card's digits. */
  card(value: string): string {
    const digits = value.replace(/\D+/g, "");
    return pick(TEST_CARDS, this.#card.digest(digits === "" ? value : digits), 0);
  }

  /** 32 hex characters (128 bits) of keyed hash of the exact value (no normalisation: ids are case-sensitive). */
  hashText(value: string): string {
    return this.#text.digest(value).toString("hex", 0, 16);
  }

  /** `length` bytes of keyed hash of `bytes` (HMAC in counter mode). */
  hashBytes(bytes: Uint8Array, length: number): Buffer {
    const out = Buffer.alloc(length);
    const message = Buffer.alloc(4 + bytes.length);
    message.set(bytes, 4);
    for (let block = 0; block * 32 < length; block++) {
      message.writeUInt32BE(block, 0);
      this.#bytes.digest(message).copy(out, block * 32);
    }
    return out;
  }

  /**
   * A keyed permutation of the type's whole range (8/16/32/64-bit, signed or
   * not): never two inputs to one output, so hashed integer keys keep their
   * rows apart. Throws RangeError for a value outside the type's range.
   */
  hashNumber(value: bigint, bits: 8 | 16 | 32 | 64, signed: boolean): bigint {
    const size = 1n << BigInt(bits);
    const [min, max] = signed ? [-(size >> 1n), (size >> 1n) - 1n] : [0n, size - 1n];
    if (value < min || value > max) throw new RangeError(`${value} does not fit a ${signed ? "signed" : "unsigned"} ${bits}-bit integer`);
    const permuted = this.#integers.get(bits)!.permute(value < 0n ? value + size : value);
    return signed && permuted > max ? permuted - size : permuted;
  }

  /**
   * A UUID string from a keyed hash. A version-1 (time) UUID keeps its time
   * fields, so timeuuid columns stay valid and sort as before; its clock
   * sequence and node (often a MAC address) are replaced. Anything else
   * becomes a version-4 UUID.
   */
  hashUuid(value: string): string {
    const normal = value.trim().toLowerCase();
    const h = this.#uuid.digest(normal);
    const bytes = Buffer.from(h.subarray(0, 16));
    if (UUID.test(normal) && normal[14] === "1") {
      Buffer.from(normal.replaceAll("-", "").slice(0, 16), "hex").copy(bytes, 0);
    } else {
      bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    }
    bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
    const hex = bytes.toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  redactText(): string {
    return REDACTED;
  }
}

/** An email on a reserved domain (ours or anyone's documentation address): not a real person's. */
export function isReservedEmail(value: string): boolean {
  const at = value.lastIndexOf("@");
  if (at < 0) return false;
  const domain = value.slice(at + 1).trim().toLowerCase().replace(/\.$/, "");
  for (const reserved of EMAIL_DOMAINS) if (domain === reserved || domain.endsWith(`.${reserved}`)) return true;
  return RESERVED_TLDS.has(domain.slice(domain.lastIndexOf(".") + 1));
}

/** One of our phone pseudonyms ("+999 …" or "+999-…"). */
export function isReservedPhone(value: string): boolean {
  // a phone found in prose may carry its opening bracket: "(+999 555…"
  return /^[\s(]*\+999[ -]\d/.test(value);
}

/** One of the public test card numbers our card pseudonyms use. */
export function isReservedCard(value: string): boolean {
  return TEST_CARD_SET.has(value.replace(/[ -]/g, ""));
}

/** A key-mode name, company or address without its hash suffix ("Ann Lee k3j5h7a9qz" → "Ann Lee"). */
export function withoutKeySuffix(pseudonym: string): string {
  return pseudonym.replace(KEY_SUFFIX, "");
}

/**
 * HMAC-SHA-256 with the padded key blocks prepared once and one-shot hashing:
 * about ten times faster than createHmac per value, same result.
 */
class Hmac {
  #inner: Buffer;
  readonly #outer: Buffer;

  constructor(key: Buffer) {
    const block = Buffer.alloc(64);
    (key.length > 64 ? hash("sha256", key, "buffer") : key).copy(block);
    this.#inner = Buffer.alloc(64 + 256);
    this.#outer = Buffer.alloc(64 + 32);
    for (let i = 0; i < 64; i++) {
      this.#inner[i] = block[i]! ^ 0x36;
      this.#outer[i] = block[i]! ^ 0x5c;
    }
  }

  digest(message: string | Uint8Array): Buffer {
    // a UTF-16 code unit takes at most 3 UTF-8 bytes
    const room = typeof message === "string" ? message.length * 3 : message.length;
    if (64 + room > this.#inner.length) {
      const grown = Buffer.alloc(64 + room);
      this.#inner.copy(grown, 0, 0, 64);
      this.#inner = grown;
    }
    const length = typeof message === "string" ? this.#inner.write(message, 64, "utf8") : (this.#inner.set(message, 64), message.length);
    hash("sha256", this.#inner.subarray(0, 64 + length), "buffer").copy(this.#outer, 64);
    return hash("sha256", this.#outer, "buffer");
  }
}

function pick<T>(list: readonly T[], h: Buffer, offset: number): T {
  return list[((h[offset]! << 8) | h[offset + 1]!) % list.length]!;
}

function withKey(name: string, h: Buffer, options: KeyOption): string {
  return options.key ? `${name} ${base32(h, 20, KEY_TAG_CHARS)}` : name;
}

/** `chars` base32 characters from the bits of h starting at byte `offset`. */
function base32(h: Buffer, offset: number, chars: number): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  let i = offset;
  while (out.length < chars) {
    if (bits < 5) {
      acc = ((acc << 8) | h[i++]!) & 0xffff;
      bits += 8;
    }
    out += BASE32[(acc >>> (bits - 5)) & 31];
    bits -= 5;
  }
  return out;
}

/** `digits` decimal digits from the first 6 bytes of h. */
function decimal(h: Buffer, digits: number): string {
  return String(h.readUIntBE(0, 6) % 10 ** digits).padStart(digits, "0");
}
