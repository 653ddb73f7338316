import cassandra from "cassandra-driver";
import type { CqlType, NativeTypeName } from "./cql-type.ts";

const { types } = cassandra;

/** A JSON value as written into a chunk line. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Field names and types of each user type, by name. */
export type UserTypes = ReadonlyMap<string, readonly { name: string; type: CqlType }[]>;

export interface ValueCodec {
  /** Driver value (as read with Map/Set encoding) to its JSON form; null stays null. */
  toJson(value: unknown): JsonValue;
  /** JSON form back to a value the driver writes as exactly the original. */
  fromJson(value: JsonValue): unknown;
}

export class ValueCodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValueCodecError";
  }
}

/**
 * Builds the codec for one CQL type once, so per-row work is a chain of
 * closures instead of a switch per value. Encodings keep every value exact:
 * 64-bit and arbitrary-precision numbers as decimal strings, blobs as base64,
 * non-finite and negative-zero floats as strings, maps as [key, value] pairs.
 */
export function codecFor(type: CqlType, userTypes: UserTypes): ValueCodec {
  switch (type.kind) {
    case "native":
      return nativeCodec(type.name);
    case "list":
      return listCodec(codecFor(type.element, userTypes));
    case "set": {
      const element = codecFor(type.element, userTypes);
      return nullable({
        toJson: (v) => Array.from(v as Iterable<unknown>, (e) => element.toJson(e)),
        fromJson: (v) => new Set(asArray(v).map((e) => element.fromJson(e))),
      });
    }
    case "map": {
      const key = codecFor(type.key, userTypes);
      const value = codecFor(type.value, userTypes);
      return nullable({
        toJson: (v) => Array.from(v as Map<unknown, unknown>, ([k, e]) => [key.toJson(k), value.toJson(e)]),
        fromJson: (v) =>
          new Map(
            asArray(v).map((pair) => {
              const [k, e] = asArray(pair);
              return [key.fromJson(k ?? null), value.fromJson(e ?? null)];
            }),
          ),
      });
    }
    case "tuple": {
      const elements = type.elements.map((t) => codecFor(t, userTypes));
      return nullable({
        toJson: (v) => {
          const tuple = v as InstanceType<typeof types.Tuple>;
          return elements.map((codec, i) => codec.toJson(tuple.get(i)));
        },
        fromJson: (v) => {
          const values = asArray(v);
          return types.Tuple.fromArray(elements.map((codec, i) => codec.fromJson(values[i] ?? null)));
        },
      });
    }
    case "udt": {
      const fields = userTypes.get(type.name);
      if (!fields) throw new ValueCodecError(`unknown user type "${type.name}"`);
      // resolved lazily: a field's own UDT is looked up only when first used
      const codecs = fields.map((f) => ({ name: f.name, codec: codecFor(f.type, userTypes) }));
      return nullable({
        toJson: (v) => {
          const record = v as Record<string, unknown>;
          const out: Record<string, JsonValue> = {};
          for (const { name, codec } of codecs) out[name] = codec.toJson(record[name] ?? null);
          return out;
        },
        fromJson: (v) => {
          const record = asObject(v);
          const out: Record<string, unknown> = {};
          for (const { name, codec } of codecs) out[name] = codec.fromJson(record[name] ?? null);
          return out;
        },
      });
    }
    case "vector": {
      const element = codecFor(type.element, userTypes);
      const subtype = type.element.kind === "native" ? type.element.name : undefined;
      return nullable({
        toJson: (v) => Array.from(v as ArrayLike<unknown>, (e) => element.toJson(e)),
        fromJson: (v) => new types.Vector(asArray(v).map((e) => element.fromJson(e)), subtype),
      });
    }
  }
}

function listCodec(element: ValueCodec): ValueCodec {
  return nullable({
    toJson: (v) => (v as unknown[]).map((e) => element.toJson(e)),
    fromJson: (v) => asArray(v).map((e) => element.fromJson(e)),
  });
}

function nullable(codec: ValueCodec): ValueCodec {
  return {
    toJson: (v) => (v === null || v === undefined ? null : codec.toJson(v)),
    fromJson: (v) => (v === null ? null : codec.fromJson(v)),
  };
}

const passThrough = nullable({ toJson: (v) => v as JsonValue, fromJson: (v) => v });
const viaString = (parse: (s: string) => unknown): ValueCodec =>
  nullable({ toJson: (v) => String(v), fromJson: (v) => parse(asString(v)) });

const floatCodec = nullable({
  toJson: (v) => {
    const n = v as number;
    if (Number.isFinite(n) && !Object.is(n, -0)) return n;
    return Object.is(n, -0) ? "-0" : String(n);
  },
  fromJson: (v) => (typeof v === "number" ? v : Number(asString(v))),
});

// Plain notation ("-12.50", scale = digits after the point) while the scale is not negative;
// "<unscaled>E+<-scale>" ("1E+30") when it is: the driver's own text has no exponent and
// writes 1E+30 as "1.", which would read back as 1.
const DECIMAL_PLAIN = /^-?\d+(\.\d*)?$/;
const DECIMAL_EXPONENT = /^(-?\d+)E\+(\d{1,10})$/;
const decimalCodec = nullable({
  toJson: (v) => {
    const text = String(v);
    // the driver's text ends in "." exactly when the scale is negative
    if (!text.endsWith(".")) return text;
    const bytes = types.BigDecimal.toBuffer(v as InstanceType<typeof types.BigDecimal>);
    return `${types.Integer.fromBuffer(bytes.subarray(4)).toString()}E+${-bytes.readInt32BE(0)}`;
  },
  fromJson: (v) => {
    const s = asString(v);
    const exponent = DECIMAL_EXPONENT.exec(s);
    if (exponent) {
      const scale = -Number(exponent[2]);
      if (scale < -0x80000000) throw new ValueCodecError(`decimal exponent out of range: ${s}`);
      const unscaled = types.Integer.toBuffer(types.Integer.fromString(exponent[1]!));
      const bytes = Buffer.alloc(4 + unscaled.length);
      bytes.writeInt32BE(scale, 0);
      unscaled.copy(bytes, 4);
      return types.BigDecimal.fromBuffer(bytes);
    }
    if (!DECIMAL_PLAIN.test(s)) throw new ValueCodecError(`bad decimal: ${JSON.stringify(s)}`);
    return types.BigDecimal.fromString(s);
  },
});

function nativeCodec(name: NativeTypeName): ValueCodec {
  switch (name) {
    case "ascii":
    case "text":
    case "varchar":
    case "boolean":
    case "int":
    case "smallint":
    case "tinyint":
      return passThrough;
    case "float":
    case "double":
      return floatCodec;
    case "bigint":
    case "counter":
      return viaString((s) => types.Long.fromString(s));
    case "varint":
      return viaString((s) => types.Integer.fromString(s));
    case "decimal":
      return decimalCodec;
    case "uuid":
      return viaString((s) => types.Uuid.fromString(s));
    case "timeuuid":
      return viaString((s) => types.TimeUuid.fromString(s));
    case "inet":
      return viaString((s) => types.InetAddress.fromString(s));
    case "date":
      return viaString((s) => types.LocalDate.fromString(s));
    case "duration":
      return viaString((s) => types.Duration.fromString(s));
    case "time":
      return nullable({
        toJson: (v) => (v as InstanceType<typeof types.LocalTime>).getTotalNanoseconds().toString(),
        fromJson: (v) => new types.LocalTime(types.Long.fromString(asString(v))),
      });
    case "timestamp":
      return nullable({
        toJson: (v) => (v as Date).getTime(),
        fromJson: (v) => new Date(typeof v === "number" ? v : Number(asString(v))),
      });
    case "blob":
      return nullable({
        toJson: (v) => (v as Buffer).toString("base64"),
        fromJson: (v) => Buffer.from(asString(v), "base64"),
      });
  }
}

function asArray(v: JsonValue): JsonValue[] {
  if (!Array.isArray(v)) throw new ValueCodecError(`expected an array, got ${JSON.stringify(v)}`);
  return v;
}
function asObject(v: JsonValue): { [key: string]: JsonValue } {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new ValueCodecError(`expected an object, got ${JSON.stringify(v)}`);
  }
  return v;
}
function asString(v: JsonValue): string {
  if (typeof v !== "string") throw new ValueCodecError(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}
