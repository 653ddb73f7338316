import type { SnapshotUserType } from "@devenv/protocol";
import { parseCqlType, type CqlType, type JsonValue } from "@devenv/snapshot";
import type { Pseudonyms } from "../scrub/pseudonyms.ts";
import { scrubJson } from "../scrub/json-scrubber.ts";
import { scrubText } from "../scrub/text-scrubber.ts";
import { ShrinkError } from "../errors.ts";
import type { Transform } from "../rules/rules-schema.ts";

export type PiiKind = "email" | "phone" | "person" | "company" | "address";

/** What transforms share: the pseudonym source and where originals are reported. */
export interface TransformContext {
  pseudonyms: Pseudonyms;
  /** A PII value met in kept data, with its pseudonym (feeds free-text replacement and the audit). */
  onPii(kind: PiiKind, original: string, pseudonym: string): void;
  /** Counts cells a transform changed. */
  onTransformed(): void;
}

export type CellTransform = (value: JsonValue) => JsonValue;

/**
 * Compiles a column's transform into a function over its JSON chunk value.
 * On a collection the transform applies to each element (map: each value).
 */
export function compileTransform(
  transform: Transform,
  type: CqlType,
  userTypes: readonly SnapshotUserType[],
  ctx: TransformContext,
  key: boolean,
): CellTransform {
  if (transform === "keep") return (v) => v;
  if (transform === "null") return (v) => (v === null ? null : changed(ctx, null));
  if (type.kind === "list" || type.kind === "set") {
    const element = compileTransform(transform, type.element, userTypes, ctx, key);
    return (v) => (Array.isArray(v) ? v.map(element) : v);
  }
  if (type.kind === "map") {
    if (transform === "json" || (typeof transform === "object" && "json" in transform)) {
      return (v) => (Array.isArray(v) ? scrubMapAsJson(v, transform, ctx) : v);
    }
    const value = compileTransform(transform, type.value, userTypes, ctx, key);
    return (v) => (Array.isArray(v) ? v.map((pair) => (Array.isArray(pair) ? [pair[0] ?? null, value(pair[1] ?? null)] : pair)) : v);
  }
  if (typeof transform === "object" && "udt" in transform) {
    if (type.kind !== "udt") throw new ShrinkError("invalid-rules", `udt transform on a ${type.kind} value`);
    const fields = userTypes.find((t) => t.name === type.name)?.fields ?? [];
    const compiled = fields.map((f) => ({
      name: f.name,
      fn: compileTransform(transform.udt[f.name] ?? "keep", parseCqlType(f.type), userTypes, ctx, false),
    }));
    return (v) => {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return v;
      const out: Record<string, JsonValue> = {};
      for (const { name, fn } of compiled) out[name] = fn(v[name] ?? null);
      return out;
    };
  }
  const native = type.kind === "native" ? type.name : undefined;
  return (v) => {
    if (v === null) return null;
    const result = applyScalar(transform, native, v, ctx, key);
    if (result !== v) ctx.onTransformed();
    return result;
  };
}

function applyScalar(transform: Transform, native: string | undefined, v: JsonValue, ctx: TransformContext, key: boolean): JsonValue {
  const p = ctx.pseudonyms;
  if (typeof transform === "object") {
    if ("json" in transform) return typeof v === "string" ? scrubJson(v, jsonOptions(ctx, transform.json)).text : v;
    return v;
  }
  switch (transform) {
    case "keep":
      return v;
    case "null":
      return null;
    case "redact":
      return native === "blob" ? "" : p.redactText();
    case "hash":
      return hashValue(p, native, v);
    case "email":
    case "phone":
    case "person":
    case "company":
    case "address": {
      if (typeof v !== "string" || v.trim() === "") return v;
      const pseudonym = pseudonymOf(p, transform, v, key);
      ctx.onPii(transform, v, pseudonym);
      return pseudonym;
    }
    case "text":
      return typeof v === "string" ? scrubText(v, { pseudonyms: p, onValue: (kind, original, pseudonym) => ctx.onPii(kind, original, pseudonym) }).text : v;
    case "json":
      return typeof v === "string" ? scrubJson(v, jsonOptions(ctx, {})).text : v;
  }
}

export function pseudonymOf(p: Pseudonyms, kind: PiiKind, value: string, key = false): string {
  switch (kind) {
    case "email":
      return p.email(value, { key });
    case "phone":
      return p.phone(value);
    case "person":
      return p.person(value, { key });
    case "company":
      return p.company(value, { key });
    case "address":
      return p.address(value, { key });
  }
}

function hashValue(p: Pseudonyms, native: string | undefined, v: JsonValue): JsonValue {
  switch (native) {
    case "blob":
      return typeof v === "string" ? p.hashBytes(Buffer.from(v, "base64"), 16).toString("base64") : v;
    case "uuid":
      return typeof v === "string" ? p.hashUuid(v) : v;
    case "timeuuid":
      return typeof v === "string" ? hashTimeUuid(p, v) : v;
    case "int":
      return typeof v === "number" ? Number(p.hashNumber(BigInt(v), 32, true)) : v;
    case "smallint":
      return typeof v === "number" ? Number(p.hashNumber(BigInt(v), 16, true)) : v;
    case "tinyint":
      return typeof v === "number" ? Number(p.hashNumber(BigInt(v), 8, true)) : v;
    case "bigint":
      return typeof v === "string" ? p.hashNumber(BigInt(v), 64, true).toString() : v;
    case "varint": {
      if (typeof v !== "string") return v;
      // a permutation of the int64 range; wider values are folded into it first
      const n = BigInt(v);
      return p.hashNumber(BigInt.asIntN(64, n) === n ? n : BigInt.asIntN(64, n ^ (n >> 64n)), 64, true).toString();
    }
    case undefined:
    default:
      return typeof v === "string" ? p.hashText(v) : v;
  }
}

/**
 * A timeuuid must stay a version-1 UUID (Cassandra refuses anything else) and keep
 * its time, which orders clustering rows: only the clock sequence and node are hashed.
 */
function hashTimeUuid(p: Pseudonyms, value: string): string {
  const hex = value.replace(/-/g, "");
  const tail = p.hashBytes(Buffer.from(hex.slice(16), "hex"), 8);
  tail[0] = (tail[0]! & 0x3f) | 0x80; // RFC 4122 variant
  const out = hex.slice(0, 16) + tail.toString("hex");
  return `${out.slice(0, 8)}-${out.slice(8, 12)}-${out.slice(12, 16)}-${out.slice(16, 20)}-${out.slice(20)}`;
}

function jsonOptions(ctx: TransformContext, json: { paths?: Record<string, Transform>; auto?: boolean }) {
  return {
    pseudonyms: ctx.pseudonyms,
    paths: json.paths,
    auto: json.auto ?? true,
    onValue: (kind: PiiKind, original: string, pseudonym: string) => ctx.onPii(kind, original, pseudonym),
  };
}

/** A map<text, text> of custom fields is scrubbed like a JSON object: keys tell the kind of each value. */
function scrubMapAsJson(pairs: JsonValue[], transform: Transform, ctx: TransformContext): JsonValue {
  const object: Record<string, JsonValue> = {};
  for (const pair of pairs) if (Array.isArray(pair) && typeof pair[0] === "string") object[pair[0]] = pair[1] ?? null;
  const json = typeof transform === "object" && "json" in transform ? transform.json : {};
  const scrubbed = JSON.parse(scrubJson(JSON.stringify(object), jsonOptions(ctx, json)).text) as Record<string, JsonValue>;
  const result = Object.entries(scrubbed).map(([k, v]) => [k, v] as JsonValue);
  if (JSON.stringify(result) !== JSON.stringify(pairs)) ctx.onTransformed();
  return result;
}

function changed(ctx: TransformContext, value: JsonValue): JsonValue {
  ctx.onTransformed();
  return value;
}
