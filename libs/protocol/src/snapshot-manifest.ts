import { z } from "zod";

/**
 * Snapshot format version, written into every manifest.
 *
 * History:
 *   1 — gzip NDJSON chunks, one row a line as an array in column order.
 */
export const snapshotFormatVersion = 1;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/, "expected a lowercase hex sha256");
/** Murmur3 tokens are signed 64-bit: kept as decimal strings to stay exact in JSON. */
const Token = z.string().regex(/^-?\d{1,19}$/, "expected a signed 64-bit decimal token");
const Identifier = z.string().min(1).max(222);

export const ColumnKind = z.enum(["partition_key", "clustering", "static", "regular"]);
export type ColumnKind = z.infer<typeof ColumnKind>;

export const SnapshotColumn = z.object({
  name: Identifier,
  /** CQL type as Cassandra prints it, e.g. `frozen<map<text, list<int>>>` or `vector<float, 3>`. */
  type: z.string().min(1),
  kind: ColumnKind,
  /** Position within the partition key or clustering key; 0 otherwise. */
  position: z.number().int().min(0),
  clusteringOrder: z.enum(["asc", "desc", "none"]),
});
export type SnapshotColumn = z.infer<typeof SnapshotColumn>;

export const SnapshotUserType = z.object({
  name: Identifier,
  fields: z.array(z.object({ name: Identifier, type: z.string().min(1) })).min(1),
});
export type SnapshotUserType = z.infer<typeof SnapshotUserType>;

export const SnapshotChunk = z.object({
  sha256: Sha256,
  /** Rows in the chunk (lines of NDJSON). */
  rows: z.number().int().min(0),
  /** Size of the stored (gzip) object. */
  bytes: z.number().int().min(0),
  /** Size of the NDJSON before compression. */
  rawBytes: z.number().int().min(0),
  /** The chunk holds rows whose partition token t satisfies start < t <= end. */
  tokenRange: z.object({ start: Token, end: Token }),
});
export type SnapshotChunk = z.infer<typeof SnapshotChunk>;

export const SnapshotTable = z.object({
  name: Identifier,
  /** Columns in the order of each NDJSON row array. */
  columns: z.array(SnapshotColumn).min(1),
  counter: z.boolean(),
  chunks: z.array(SnapshotChunk),
  rows: z.number().int().min(0),
  bytes: z.number().int().min(0),
});
export type SnapshotTable = z.infer<typeof SnapshotTable>;

export const SnapshotManifest = z.object({
  formatVersion: z.literal(snapshotFormatVersion),
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "letters, digits, '.', '_' or '-'"),
  createdAt: z.iso.datetime(),
  source: z.object({
    description: z.string(),
    keyspace: Identifier,
    cassandraVersion: z.string().optional(),
  }),
  schema: z.object({
    /** User types in dependency order (a type comes after the types it uses). */
    types: z.array(SnapshotUserType),
    /** CQL DDL without keyspace qualifiers, in dependency order: types, tables, indexes. */
    statements: z.array(z.string().min(1)),
  }),
  tables: z.array(SnapshotTable),
  totals: z.object({
    tables: z.number().int().min(0),
    chunks: z.number().int().min(0),
    rows: z.number().int().min(0),
    bytes: z.number().int().min(0),
  }),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifest>;

/** Where a snapshot's objects live inside a blob store. */
export const snapshotKeys = {
  manifest: (snapshotId: string) => `snapshots/${snapshotId}/manifest.json`,
  chunk: (sha256: string) => `chunks/${sha256}`,
  snapshotsPrefix: "snapshots/",
};

/**
 * Progress of a long snapshot operation, emitted by the library, printed by the
 * CLI and forwarded by the agent over the wire.
 */
export const TransferPhase = z.enum(["plan", "scan", "upload", "download", "verify", "schema", "load", "done"]);
export type TransferPhase = z.infer<typeof TransferPhase>;

export const TransferProgress = z.object({
  operation: z.enum(["export", "restore", "verify"]),
  phase: TransferPhase,
  bytesDone: z.number().int().min(0),
  bytesTotal: z.number().int().min(0).optional(),
  rowsDone: z.number().int().min(0),
  rowsTotal: z.number().int().min(0).optional(),
  chunksDone: z.number().int().min(0),
  chunksTotal: z.number().int().min(0).optional(),
  /** Seconds since the operation started. */
  elapsedSeconds: z.number().min(0),
});
export type TransferProgress = z.infer<typeof TransferProgress>;
