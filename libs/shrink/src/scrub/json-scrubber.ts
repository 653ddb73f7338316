import { ShrinkError } from "../errors.ts";
import type { Transform } from "../rules/rules-schema.ts";
import type { KnownValueKind, KnownValueMatcher } from "./known-values.ts";
import { isPlausibleEmail, isPlausiblePhone } from "./normalize.ts";
import { findPii } from "./pii-patterns.ts";
import { isReservedCard, isReservedEmail, isReservedPhone, type Pseudonyms } from "./pseudonyms.ts";
import { scrubText } from "./text-scrubber.ts";

export interface JsonScrubOptions {
  pseudonyms: Pseudonyms;
  known?: KnownValueMatcher;
  /** `$.a.b`, `$.contacts[*].phone` → transform; applied before automatic detection, and wins over it. */
  paths?: Record<string, Transform>;
  /**
   * Detect PII by key name (default true). Off, only `paths` pick transforms;
   * every other string is still scanned as free text (fail closed). To keep a
   * subtree as it is, give it the `keep` path.
   */
  auto?: boolean;
  /** Each PII value replaced (email, phone, person, company, address), with its pseudonym. */
  onValue?: (kind: KnownValueKind, original: string, pseudonym: string) => void;
}

/** What a key name says about its value. "redact" covers secrets; "card" card numbers. */
export type DetectedKind = KnownValueKind | "card" | "redact";

const KEY_RULES: readonly (readonly [DetectedKind, RegExp])[] = [
  [
    "redact",
    /(?:password|passwd|passphrase|secret|token|apikey|accesskey|secretkey|privatekey|credentials?|socialsecuritynumber|securitycode|bankaccount(?:number)?|authorization|dateofbirth|birthdate|birthday)$|^(?:pwd|ssn|pin|cvv|cvc|cvv2|iban|cookie|setcookie|dob)$/,
  ],
  ["card", /(?:cardnumber|creditcard(?:number)?|ccnumber)$|^(?:pan|cc)$/],
  ["email", /e?mail(?:address|addr)?$/],
  ["phone", /(?:phone|phonenumber|phoneno|mobile|mobilenumber|mobilephone|telephone|telephonenumber|cellphone|cellnumber|fax|faxnumber|msisdn)$|^(?:tel|telno|cell|sms|whatsapp)$/],
  ["company", /(?:company|companyname|employer|employername|businessname|organi[sz]ationname|orgname)$/],
  [
    "person",
    /(?:fullname|firstname|lastname|middlename|givenname|familyname|surname|displayname|contactname|customername|personname|nickname|maidenname|billingname|shippingname|recipientname|ownername)$|^(?:name|first|last|given|family)$/,
  ],
  ["address", /(?:address|addressline\d*|addr|street|streetaddress|streetline\d*)$|^line\d$/],
];
// Network and crypto "addresses" are not where anyone lives.
const NOT_POSTAL = /^(?:ip|ipv4|ipv6|mac|remote|local|server|host|bind|listen|wallet|contract|web|url|proxy|gateway|network|memory|base|physical|virtual|bitcoin|btc|eth|socket|peer|client|source|src|destination|dest|dst|node|public|private|broadcast)(?:address|addr)$/;

/**
 * The PII kind a key name announces, compared without case or separators
 * ("E-Mail", "contact_email", "phoneNumbers", "api_key"); undefined for none.
 */
export function detectKeyKind(key: string): DetectedKind | undefined {
  // the same few keys come back in every row
  if (keyKinds.has(key)) return keyKinds.get(key);
  const kind = detectUncached(key);
  if (keyKinds.size >= KEY_CACHE_LIMIT) keyKinds.clear();
  keyKinds.set(key, kind);
  return kind;
}

const KEY_CACHE_LIMIT = 10_000;
const keyKinds = new Map<string, DetectedKind | undefined>();

function detectUncached(key: string): DetectedKind | undefined {
  const compact = key.toLowerCase().replace(/[^a-z0-9]+/g, "");
  if (compact === "") return undefined;
  const base = compact.replace(/\d+$/, "");
  const candidates = [compact, base, base.replace(/s$/, ""), base.replace(/es$/, "")];
  for (const [kind, rule] of KEY_RULES) {
    for (const candidate of candidates) {
      if (candidate !== "" && rule.test(candidate)) return kind === "address" && NOT_POSTAL.test(candidate) ? undefined : kind;
    }
  }
  return undefined;
}

/**
 * Scrubs JSON text: explicit paths first, then PII detected by key name at any
 * depth (arrays under a PII key: every element; objects under a secret key:
 * everything), and every other string as free text (a string that holds JSON
 * is scrubbed as JSON). Object keys are scanned as free text too. Only the
 * replaced values change: whitespace, key order, duplicate keys and number
 * spellings stay byte for byte. Text that is not valid JSON is scrubbed as
 * free text.
 */
export function scrubJson(text: string, options: JsonScrubOptions): { text: string; replaced: number } {
  return scrubAt(text, options, rootContext(options));
}

/**
 * A map<text, text> of custom fields, scrubbed like a JSON object: the key says
 * the value's kind, other values are free text (or JSON). Keys are scanned as
 * free text. `paths` address entries as `$.<key>`.
 */
export function scrubMapValues(entries: Iterable<readonly [string, string]>, options: JsonScrubOptions): { entries: [string, string][]; replaced: number } {
  const root = rootContext(options);
  const whole = root.paths.find((n) => n.transform !== undefined)?.transform;
  const out: [string, string][] = [];
  let replaced = 0;
  for (const [key, value] of entries) {
    const context: Context = { paths: byKey(root.paths, key), inherited: whole, kind: root.auto ? detectKeyKind(key) : undefined, auto: root.auto };
    const scrubbedValue = scrubAt(JSON.stringify(value), options, context);
    const scrubbedKey = whole === "keep" ? { text: key, replaced: 0 } : scrubText(key, options);
    replaced += scrubbedValue.replaced + scrubbedKey.replaced;
    out.push([scrubbedKey.text, scrubbedValue.replaced === 0 ? value : (JSON.parse(scrubbedValue.text) as string)]);
  }
  return { entries: out, replaced };
}

// ---- where a value sits ----------------------------------------------------

interface PathNode {
  children: Map<string, PathNode>;
  anyIndex: PathNode | undefined;
  transform: Transform | undefined;
}

interface Context {
  /** Path-rule nodes that match this value's location. */
  paths: readonly PathNode[];
  /** An explicit transform from an ancestor: on a collection it applies to each element. */
  inherited: Transform | undefined;
  /** PII kind announced by the key (or carried through an array / a secret container). */
  kind: DetectedKind | undefined;
  auto: boolean;
}

const NO_PATHS: readonly PathNode[] = [];
const compiled = new WeakMap<object, PathNode>();

function rootContext(options: JsonScrubOptions): Context {
  return { paths: options.paths ? [compilePaths(options.paths)] : NO_PATHS, inherited: undefined, kind: undefined, auto: options.auto ?? true };
}

function compilePaths(paths: Record<string, Transform>): PathNode {
  const cached = compiled.get(paths);
  if (cached) return cached;
  const root = pathNode();
  for (const [path, transform] of Object.entries(paths)) {
    if (!path.startsWith("$")) throw new ShrinkError("invalid-rules", `JSON path ${path} must start with "$" (like $.contact.email or $.contacts[*].phone)`);
    const segment = /\.([^.[\]]+)|\[\*\]/y;
    segment.lastIndex = 1;
    let node = root;
    while (segment.lastIndex < path.length) {
      const match = segment.exec(path);
      if (!match) throw new ShrinkError("invalid-rules", `JSON path ${path} is not like $.contact.email or $.contacts[*].phone`);
      if (match[1] === undefined) {
        node.anyIndex ??= pathNode();
        node = node.anyIndex;
      } else {
        let child = node.children.get(match[1]);
        if (!child) node.children.set(match[1], (child = pathNode()));
        node = child;
      }
    }
    node.transform = transform;
  }
  compiled.set(paths, root);
  return root;
}

/** A UDT transform inside JSON: its fields are paths one level down. */
function compileUdt(fields: Record<string, Transform>): PathNode {
  const cached = compiled.get(fields);
  if (cached) return cached;
  const root = pathNode();
  for (const [name, transform] of Object.entries(fields)) root.children.set(name, { ...pathNode(), transform });
  compiled.set(fields, root);
  return root;
}

function pathNode(): PathNode {
  return { children: new Map(), anyIndex: undefined, transform: undefined };
}

function byKey(nodes: readonly PathNode[], key: string): readonly PathNode[] {
  if (nodes.length === 0) return NO_PATHS;
  const out: PathNode[] = [];
  for (const node of nodes) {
    const child = node.children.get(key);
    if (child) out.push(child);
  }
  return out.length === 0 ? NO_PATHS : out;
}

function byIndex(nodes: readonly PathNode[]): readonly PathNode[] {
  if (nodes.length === 0) return NO_PATHS;
  const out: PathNode[] = [];
  for (const node of nodes) if (node.anyIndex) out.push(node.anyIndex);
  return out.length === 0 ? NO_PATHS : out;
}

function scrubAt(text: string, options: JsonScrubOptions, context: Context): { text: string; replaced: number } {
  try {
    const scrubber = new JsonScrubber(text, options);
    scrubber.document(context);
    return scrubber.result();
  } catch (error) {
    // not JSON (or nested deeper than the stack): scrub it as free text, never pass it through
    if (error instanceof SyntaxError || error instanceof RangeError) return scrubText(text, options);
    throw error;
  }
}

// ---- the scrubber ----------------------------------------------------------

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const CONTROL = /[\u0000-\u001f]/;
const INTEGER = /^-?\d+$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const QUOTE = 0x22;

type Token = "string" | "number" | "object" | "array" | "literal";

/**
 * A strict recursive-descent pass over the JSON text that copies it through
 * and splices replacements in, so untouched bytes stay untouched.
 */
class JsonScrubber {
  readonly #text: string;
  readonly #options: JsonScrubOptions;
  readonly #pseudonyms: Pseudonyms;
  #pos = 0;
  #copied = 0;
  #out = "";
  #replaced = 0;

  constructor(text: string, options: JsonScrubOptions) {
    this.#text = text;
    this.#options = options;
    this.#pseudonyms = options.pseudonyms;
  }

  document(context: Context): void {
    this.#value(context);
    this.#whitespace();
    if (this.#pos !== this.#text.length) throw new SyntaxError(`unexpected text at ${this.#pos}`);
  }

  result(): { text: string; replaced: number } {
    if (this.#replaced === 0) return { text: this.#text, replaced: 0 };
    return { text: this.#out + this.#text.slice(this.#copied), replaced: this.#replaced };
  }

  #value(context: Context): void {
    this.#whitespace();
    const own = context.paths.find((n) => n.transform !== undefined)?.transform;
    const transform = own ?? context.inherited;
    if (transform === undefined) this.#auto(context);
    else this.#explicit(transform, context);
  }

  // ---- explicit transforms (paths) ----

  #explicit(transform: Transform, context: Context): void {
    const token = this.#peek();
    if (typeof transform === "object") {
      // the rule's own paths (or UDT fields) start at this value
      const inner = "json" in transform ? (transform.json.paths ? [compilePaths(transform.json.paths)] : []) : [compileUdt(transform.udt)];
      const auto = "json" in transform ? (transform.json.auto ?? true) : true;
      if (token === "object" || token === "array") return this.#container(token, { paths: [...context.paths, ...inner], inherited: undefined, kind: undefined, auto });
      if (token === "string") {
        // JSON inside a string: the rule's paths apply to the document it holds
        const string = this.#string();
        const scrubbed = scrubAt(string.value, this.#options, { paths: inner, inherited: undefined, kind: undefined, auto });
        if (scrubbed.replaced > 0) this.#splice(string.start, string.end, JSON.stringify(scrubbed.text), scrubbed.replaced);
        return;
      }
      return this.#skipScalar(token);
    }
    switch (transform) {
      case "keep":
        if (token === "object" || token === "array") return this.#container(token, { ...context, inherited: "keep", kind: undefined }, false);
        return this.#skipScalar(token);
      case "null": {
        const start = this.#pos;
        if (token === "literal" && this.#text.startsWith("null", start)) return this.#skipScalar(token);
        this.#skip();
        return this.#splice(start, this.#pos, "null");
      }
      case "text":
      case "json":
        // a collection under a free-text rule gets the full automatic treatment: the safe default
        if (token === "object" || token === "array") return this.#container(token, { ...context, inherited: undefined, kind: undefined, auto: true });
        if (token === "string") return this.#freeTextString(transform === "json", true);
        if (token === "number") return this.#freeNumber();
        return this.#skipScalar(token);
      case "redact":
      case "hash":
      case "email":
      case "phone":
      case "person":
      case "company":
      case "address":
        if (token === "object" || token === "array") return this.#container(token, { ...context, inherited: transform, kind: undefined });
        if (token === "string") return this.#kindString(transform, false);
        if (token === "number") return this.#kindNumber(transform, false);
        return this.#skipScalar(token);
    }
  }

  // ---- automatic detection ----

  #auto(context: Context): void {
    const token = this.#peek();
    switch (token) {
      case "object":
      case "array":
        return this.#container(token, context);
      case "string":
        if (context.kind !== undefined) return this.#kindString(context.kind, true);
        return this.#freeTextString(false, context.auto);
      case "number":
        if (context.kind !== undefined) return this.#kindNumber(context.kind, true);
        return this.#freeNumber();
      case "literal":
        return this.#skipScalar(token);
    }
  }

  /** Objects and arrays; `scrubKeys` false only under `keep`. */
  #container(token: "object" | "array", context: Context, scrubKeys = true): void {
    if (token === "array") {
      this.#pos++;
      // an array under a PII key is a list of that PII
      const element: Context = { paths: byIndex(context.paths), inherited: context.inherited, kind: context.kind, auto: context.auto };
      this.#whitespace();
      if (this.#text.charCodeAt(this.#pos) === 0x5d) {
        this.#pos++;
        return;
      }
      for (;;) {
        this.#value(element);
        this.#whitespace();
        const c = this.#text.charCodeAt(this.#pos++);
        if (c === 0x5d) return;
        if (c !== 0x2c) throw new SyntaxError(`expected , or ] at ${this.#pos - 1}`);
      }
    }
    this.#pos++;
    this.#whitespace();
    if (this.#text.charCodeAt(this.#pos) === 0x7d) {
      this.#pos++;
      return;
    }
    for (;;) {
      this.#whitespace();
      if (this.#text.charCodeAt(this.#pos) !== QUOTE) throw new SyntaxError(`expected a key at ${this.#pos}`);
      const key = this.#string();
      if (scrubKeys) {
        // map-like objects are keyed by emails or phone numbers surprisingly often
        const scrubbed = scrubText(key.value, this.#options);
        if (scrubbed.replaced > 0) this.#splice(key.start, key.end, JSON.stringify(scrubbed.text), scrubbed.replaced);
      }
      this.#whitespace();
      if (this.#text.charCodeAt(this.#pos++) !== 0x3a) throw new SyntaxError(`expected : at ${this.#pos - 1}`);
      const detected = context.auto ? detectKeyKind(key.value) : undefined;
      this.#value({
        paths: byKey(context.paths, key.value),
        inherited: context.inherited,
        // inside a secret every value is secret; other kinds stop at an object's keys
        kind: detected ?? (context.kind === "redact" ? "redact" : undefined),
        auto: context.auto,
      });
      this.#whitespace();
      const c = this.#text.charCodeAt(this.#pos++);
      if (c === 0x7d) return;
      if (c !== 0x2c) throw new SyntaxError(`expected , or } at ${this.#pos - 1}`);
    }
  }

  // ---- leaves ----

  #kindString(kind: DetectedKind | "hash", fromKey: boolean): void {
    const { start, end, value } = this.#string();
    if (value.trim() === "") return;
    const p = this.#pseudonyms;
    let replacement: string;
    let reported: KnownValueKind | undefined;
    // a key's promise is weaker than the value's shape: {"name": "ann@corp.com"} is an email
    const effective = fromKey && (kind === "person" || kind === "company" || kind === "address") && isWholeEmail(value) ? "email" : kind;
    // nor is {"email": "EMAIL"} (a field mapping) an address: a key alone does not make a value an email or a phone
    if (fromKey && !plausibleAs(effective, value)) {
      const scrubbed = scrubText(value, this.#options);
      if (scrubbed.replaced > 0) this.#splice(start, end, JSON.stringify(scrubbed.text), scrubbed.replaced);
      return;
    }
    switch (effective) {
      case "email":
        if (fromKey && isReservedEmail(value)) return;
        replacement = p.email(value);
        reported = "email";
        break;
      case "phone":
        if (fromKey && isReservedPhone(value)) return;
        replacement = p.phone(value);
        reported = "phone";
        break;
      case "person":
      case "company":
      case "address":
        replacement = p[effective](value);
        reported = effective;
        break;
      case "card":
        if (isReservedCard(value)) return;
        replacement = p.card(value);
        break;
      case "redact":
        replacement = p.redactText();
        break;
      case "hash":
        replacement = p.hashText(value);
        break;
    }
    if (replacement === value) return;
    if (reported !== undefined) this.#options.onValue?.(reported, value, replacement);
    this.#splice(start, end, JSON.stringify(replacement));
  }

  #kindNumber(kind: DetectedKind | "hash", fromKey: boolean): void {
    const start = this.#pos;
    const raw = this.#number();
    const p = this.#pseudonyms;
    let replacement: string;
    switch (kind) {
      case "phone": {
        if (fromKey && raw.startsWith("999")) return; // one of ours, as a number
        const fake = p.phone(raw);
        this.#options.onValue?.("phone", raw, fake);
        replacement = fake.replace(/\D+/g, ""); // still a number: "999" and the digits
        break;
      }
      case "redact":
        replacement = "0";
        break;
      case "card":
        replacement = p.card(raw);
        break;
      case "hash": {
        const value = INTEGER.test(raw) ? BigInt(raw) : undefined;
        replacement = value !== undefined && value >= INT64_MIN && value <= INT64_MAX ? p.hashNumber(value, 64, true).toString() : JSON.stringify(p.hashText(raw));
        break;
      }
      case "email":
      case "person":
      case "company":
      case "address": {
        // a number under a name key is rarely a name; an explicit rule says it is
        if (fromKey) return;
        const fake = p[kind](raw);
        this.#options.onValue?.(kind, raw, fake);
        replacement = JSON.stringify(fake);
        break;
      }
    }
    if (replacement !== raw) this.#splice(start, this.#pos, replacement);
  }

  /**
   * A number outside any PII key: only a card number can hide in one (a phone
   * needs "+" or separators). Checked as the audit's scan of the raw JSON sees it.
   */
  #freeNumber(): void {
    const start = this.#pos;
    const raw = this.#number();
    if (raw.length < 13) return;
    const card = findPii(raw).find((m) => m.kind === "card");
    if (card === undefined || isReservedCard(card.value)) return;
    this.#splice(start, this.#pos, this.#pseudonyms.card(card.value));
  }

  /** `asJson`: the rule says JSON; otherwise a string that looks like JSON is tried as JSON. */
  #freeTextString(asJson: boolean, auto: boolean): void {
    const { start, end, value } = this.#string();
    const first = value.trimStart().charCodeAt(0);
    const scrubbed =
      asJson || first === 0x7b || first === 0x5b
        ? scrubAt(value, this.#options, { paths: NO_PATHS, inherited: undefined, kind: undefined, auto })
        : scrubText(value, this.#options);
    if (scrubbed.replaced > 0) this.#splice(start, end, JSON.stringify(scrubbed.text), scrubbed.replaced);
  }

  // ---- lexing ----

  #peek(): Token {
    const c = this.#text.charCodeAt(this.#pos);
    if (c === QUOTE) return "string";
    if (c === 0x7b) return "object";
    if (c === 0x5b) return "array";
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return "number";
    if (c === 0x74 || c === 0x66 || c === 0x6e) return "literal";
    throw new SyntaxError(`unexpected ${Number.isNaN(c) ? "end" : JSON.stringify(this.#text[this.#pos])} at ${this.#pos}`);
  }

  #whitespace(): void {
    for (;;) {
      const c = this.#text.charCodeAt(this.#pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.#pos++;
    }
  }

  #string(): { start: number; end: number; value: string } {
    const start = this.#pos;
    let close = start;
    for (;;) {
      close = this.#text.indexOf('"', close + 1);
      if (close < 0) throw new SyntaxError(`unterminated string at ${start}`);
      let backslashes = 0;
      while (this.#text.charCodeAt(close - 1 - backslashes) === 0x5c) backslashes++;
      if (backslashes % 2 === 0) break;
    }
    this.#pos = close + 1;
    const raw = this.#text.slice(start + 1, close);
    if (CONTROL.test(raw)) throw new SyntaxError(`control character in string at ${start}`);
    return { start, end: close + 1, value: raw.includes("\\") ? (JSON.parse(this.#text.slice(start, close + 1)) as string) : raw };
  }

  #number(): string {
    NUMBER.lastIndex = this.#pos;
    const match = NUMBER.exec(this.#text);
    if (!match) throw new SyntaxError(`bad number at ${this.#pos}`);
    this.#pos += match[0].length;
    return match[0];
  }

  #skipScalar(token: Token): void {
    if (token === "string") this.#string();
    else if (token === "number") this.#number();
    else if (token === "literal") {
      const word = ["true", "false", "null"].find((w) => this.#text.startsWith(w, this.#pos));
      if (word === undefined) throw new SyntaxError(`unexpected literal at ${this.#pos}`);
      this.#pos += word.length;
    } else this.#skip();
  }

  /** Past any value, changing nothing. */
  #skip(): void {
    const token = this.#peek();
    if (token === "object" || token === "array") this.#container(token, { paths: NO_PATHS, inherited: "keep", kind: undefined, auto: false }, false);
    else this.#skipScalar(token);
  }

  #splice(start: number, end: number, replacement: string, count = 1): void {
    this.#out += this.#text.slice(this.#copied, start) + replacement;
    this.#copied = end;
    this.#replaced += count;
  }
}

function isWholeEmail(value: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]{2,}$/.test(value.trim());
}

/** Whether a value under a detected key has the shape of that kind at all. */
function plausibleAs(kind: DetectedKind | "hash", value: string): boolean {
  if (kind === "email") return isPlausibleEmail(value);
  if (kind === "phone") return isPlausiblePhone(value);
  return true;
}
