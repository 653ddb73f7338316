import cassandra from "cassandra-driver";

const { types } = cassandra;

/** A decimal of any scale, negative included (the driver's fromString has no exponent). */
export function decimal(unscaled: string, scale: number): InstanceType<typeof types.BigDecimal> {
  const digits = types.Integer.toBuffer(types.Integer.fromString(unscaled));
  const bytes = Buffer.alloc(4 + digits.length);
  bytes.writeInt32BE(scale, 0);
  digits.copy(bytes, 4);
  return types.BigDecimal.fromBuffer(bytes);
}

/**
 * A driver value in a form that compares by value and independently of the
 * snapshot codec: decimals by scale and unscaled value (the driver's text is
 * the same for 1E+29 and 1E+30), other driver classes by their text.
 */
export function canonical(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : Number.isNaN(value) ? "NaN" : value;
  if (typeof value !== "object") return value;
  if (Buffer.isBuffer(value)) return `0x${value.toString("hex")}`;
  if (value instanceof Date) return `date:${value.getTime()}`;
  if (value instanceof Map) return [...value].map(([k, v]) => [canonical(k), canonical(v)]);
  if (value instanceof Set || Array.isArray(value)) return [...value].map(canonical);
  if (value instanceof types.Tuple) return { tuple: value.values().map(canonical) };
  if (value instanceof types.Vector) return { vector: [...value.elements].map(canonical) };
  if (value instanceof types.BigDecimal) return `BigDecimal:0x${types.BigDecimal.toBuffer(value).toString("hex")}`;
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== Object.prototype && proto !== null) return `${value.constructor.name}:${String(value)}`;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
}
