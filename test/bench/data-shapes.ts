import cassandra from "cassandra-driver";
import { SeededRandom } from "./seeded-random.ts";

const { types } = cassandra;

export const shapeNames = ["small", "wide"] as const;
export type ShapeName = (typeof shapeNames)[number];

type ColumnType = "bigint" | "int" | "text" | "double" | "timestamp" | "uuid";

export interface ShapeColumn {
  name: string;
  type: ColumnType;
}

/**
 * One table shape the benchmark loads. Row `index` of a data set depends only on
 * (seed, index), so the verifier can rebuild any row without keeping the data set.
 */
export interface BenchShape {
  readonly name: ShapeName;
  readonly table: string;
  readonly summary: string;
  /** In the order rowAt() returns values. */
  readonly columns: readonly ShapeColumn[];
  readonly partitionKey: readonly string[];
  /** Partition key, then clustering columns. */
  readonly primaryKey: readonly string[];
  /** Consecutive indexes share a partition this many at a time; generation batches them. */
  readonly rowsPerPartition: number;
  createTable(keyspace: string): string;
  /** The values of row `index`, as the driver binds them, in `columns` order. */
  rowAt(seed: number, index: number): unknown[];
}

const epochBase = Date.UTC(2019, 0, 1);

// a comma, quotes, non-ASCII and a backslash in the data make sure every loader's CSV handling is exercised
const firstNames = ["Ada", "Zoë", "Łukasz", "Søren", "Ana María", "Grace", "Chidi", "Yūki", "Olu", "Marta", "Rafael", "Ines"];
const lastNames = ["Lovelace", "Hopper", "Kowalski", "Kierkegaard", "García", "O'Neil", "Okafor", "Tanaka", "Ndiaye", "Rossi"];
const domains = ["example.com", "example.org", "mail.example.net", "corp.example"];
const words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"];
const eventKinds = ["login", "logout", "purchase", "refund", "upgrade", "password_reset", "export", "invite"];
const locales = ["en-GB", "de-DE", "pl-PL", "ja-JP", "pt-BR", "fr-FR"];

/** ~100-byte rows, four to a partition: `(id bigint, seq int) -> name, score, created`. */
export const smallShape: BenchShape = {
  name: "small",
  table: "small",
  summary: "~100 B rows, 4 per partition",
  columns: [
    { name: "id", type: "bigint" },
    { name: "seq", type: "int" },
    { name: "name", type: "text" },
    { name: "score", type: "double" },
    { name: "created", type: "timestamp" },
  ],
  partitionKey: ["id"],
  primaryKey: ["id", "seq"],
  rowsPerPartition: 4,
  createTable: (keyspace) =>
    `CREATE TABLE ${keyspace}.small (id bigint, seq int, name text, score double, created timestamp, PRIMARY KEY (id, seq))`,
  rowAt(seed, index) {
    const key = new SeededRandom(seed, 1, Math.floor(index / this.rowsPerPartition));
    const id = types.Long.fromBits(key.uint32() | 0, key.uint32() | 0);
    const r = new SeededRandom(seed, 2, index);
    const name = `${r.pick(lastNames)}, ${r.pick(firstNames)} <${r.pick(words)}.${r.below(100_000)}@${r.pick(domains)}>`;
    // full 53-bit mantissas: a loader that rounds a double anywhere fails verification
    const score = (r.double() - 0.5) * 20_000;
    const created = new Date(epochBase + r.uint32() * 47);
    return [id, index % this.rowsPerPartition, name, score, created];
  },
};

/** ~1 KiB rows, one per partition, mostly a JSON document: `id uuid -> org, payload, updated`. */
export const wideShape: BenchShape = {
  name: "wide",
  table: "wide",
  summary: "~1 KiB rows (JSON text column)",
  columns: [
    { name: "id", type: "uuid" },
    { name: "org", type: "text" },
    { name: "payload", type: "text" },
    { name: "updated", type: "timestamp" },
  ],
  partitionKey: ["id"],
  primaryKey: ["id"],
  rowsPerPartition: 1,
  createTable: (keyspace) => `CREATE TABLE ${keyspace}.wide (id uuid PRIMARY KEY, org text, payload text, updated timestamp)`,
  rowAt(seed, index) {
    const r = new SeededRandom(seed, 3, index);
    const id = types.Uuid.fromString(uuidV4(r));
    const org = `org-${String(r.below(2000)).padStart(4, "0")}`;
    const payload = JSON.stringify(payloadDocument(r));
    const updated = new Date(epochBase + r.uint32() * 47);
    return [id, org, payload, updated];
  },
};

export const shapes: Record<ShapeName, BenchShape> = { small: smallShape, wide: wideShape };

function uuidV4(r: SeededRandom): string {
  const hex = (n: number) => n.toString(16).padStart(8, "0");
  const a = hex(r.uint32());
  const b = hex(r.uint32());
  const c = hex(r.uint32());
  const d = hex(r.uint32());
  const variant = ((parseInt(c[0]!, 16) & 0x3) | 0x8).toString(16);
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function payloadDocument(r: SeededRandom): Json {
  const events: Json[] = [];
  for (let i = 0; i < 7; i++) {
    events.push({
      at: new Date(epochBase + r.uint32() * 47).toISOString(),
      kind: r.pick(eventKinds),
      amount: r.below(1_000_000) / 100,
      ref: `${r.pick(words)}-${r.uint32().toString(36)}`,
    });
  }
  return {
    user: {
      id: r.uint32(),
      name: `${r.pick(firstNames)} ${r.pick(lastNames)}`,
      email: `${r.pick(words)}.${r.below(100_000)}@${r.pick(domains)}`,
      locale: r.pick(locales),
    },
    plan: r.pick(["free", "team", "business", "enterprise"]),
    flags: { beta: r.below(2) === 1, mfa: r.below(2) === 1, legacy: r.below(10) === 0 },
    home: `C:\\Users\\${r.pick(words)}\\AppData`,
    note: `"${r.pick(words)}", naïve café — ${r.pick(["東京", "Kraków", "São Paulo", "Zürich"])}`,
    tags: Array.from({ length: 5 }, () => r.pick(words)),
    events,
  };
}
