import { z } from "zod";

/**
 * The shrink rules file (YAML). Deny by default: every table of the source
 * keyspace and every column of a kept table must be named here.
 *
 * History of `version`:
 *   1 — first version.
 */

/** What to do with one value. On a collection it applies to each element (map: to each value). */
export const SimpleTransform = z.enum([
  "keep", // copy as is
  "null", // drop the cell
  "redact", // a fixed placeholder of the same type
  "hash", // keyed hash, hex (text) or the type's own shape
  "email", // pseudonymous email on a reserved domain
  "phone", // pseudonymous phone number in a reserved range
  "person", // pseudonymous person name
  "company", // pseudonymous company name
  "address", // pseudonymous street address
  "text", // free text: patterns and known PII values replaced
  "json", // JSON text: PII keys detected automatically, every string scanned as free text
]);
export type SimpleTransform = z.infer<typeof SimpleTransform>;

export type Transform =
  | SimpleTransform
  | { json: { paths?: Record<string, Transform>; auto?: boolean } }
  | { udt: Record<string, Transform> };

export const Transform: z.ZodType<Transform> = z.lazy(() =>
  z.union([
    SimpleTransform,
    z.strictObject({
      json: z.strictObject({
        /** JSONPath-like `$.a.b[*].c` → transform; applied before automatic detection. */
        paths: z.record(z.string().regex(/^\$(\.[^.[\]]+|\[\*\])*$/, "a path like $.contact.email or $.contacts[*].phone"), Transform).optional(),
        auto: z.boolean().optional(),
      }),
    }),
    z.strictObject({ udt: z.record(z.string(), Transform) }),
  ]),
);

const Identifier = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a CQL identifier");

/** How a row finds its organisation. */
export const OrgLink = z.union([
  z.literal("none"), // a global table, kept whole (no customer data in it)
  Identifier, // the column holding the org id
  z.strictObject({
    /** Reach the org through another table: this table's `column` equals `table.key`, whose row holds the org. */
    via: z.strictObject({ table: Identifier, column: Identifier, key: Identifier }),
  }),
]);
export type OrgLink = z.infer<typeof OrgLink>;

export const TableRule = z.union([
  z.literal("drop"),
  z.strictObject({
    org: OrgLink,
    /** Event tables: keep rows whose `column` is within `keepDays` before --as-of. */
    time: z.strictObject({ column: Identifier, keepDays: z.number().int().positive() }).optional(),
    columns: z.record(Identifier, Transform),
  }),
]);
export type TableRule = z.infer<typeof TableRule>;

export const ShrinkRules = z.strictObject({
  version: z.literal(1),
  orgs: z.strictObject({
    table: Identifier,
    id: Identifier,
    kind: Identifier,
    keep: z.union([
      z.strictObject({ kinds: z.array(z.string().min(1)).min(1) }),
      z.strictObject({ ids: z.array(z.string().min(1)).min(1) }),
    ]),
  }),
  secret: z.union([z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })]),
  tables: z.record(Identifier, TableRule),
});
export type ShrinkRules = z.infer<typeof ShrinkRules>;
