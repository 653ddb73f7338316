/** A parsed CQL type, as printed by Cassandra in system_schema (e.g. `frozen<map<text, list<int>>>`). */
export type CqlType =
  | { kind: "native"; name: NativeTypeName }
  | { kind: "list" | "set"; element: CqlType; frozen: boolean }
  | { kind: "map"; key: CqlType; value: CqlType; frozen: boolean }
  | { kind: "tuple"; elements: CqlType[] }
  | { kind: "udt"; name: string; frozen: boolean }
  | { kind: "vector"; element: CqlType; dimensions: number };

export const nativeTypeNames = [
  "ascii", "bigint", "blob", "boolean", "counter", "date", "decimal", "double", "duration", "float",
  "inet", "int", "smallint", "text", "time", "timestamp", "timeuuid", "tinyint", "uuid", "varchar", "varint",
] as const;
export type NativeTypeName = (typeof nativeTypeNames)[number];

export class CqlTypeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CqlTypeError";
  }
}

/** Parses one CQL type; UDT names may be quoted. Throws CqlTypeError with the offending text. */
export function parseCqlType(text: string): CqlType {
  const parser = new TypeParser(text);
  const type = parser.type(false);
  parser.end();
  return type;
}

class TypeParser {
  private pos = 0;
  private readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  type(frozen: boolean): CqlType {
    const name = this.identifier();
    const lower = name.quoted ? name.value : name.value.toLowerCase();
    if (!name.quoted) {
      switch (lower) {
        case "frozen": {
          this.expect("<");
          const inner = this.type(true);
          this.expect(">");
          return inner;
        }
        case "list":
        case "set": {
          this.expect("<");
          const element = this.type(false);
          this.expect(">");
          return { kind: lower, element, frozen };
        }
        case "map": {
          this.expect("<");
          const key = this.type(false);
          this.expect(",");
          const value = this.type(false);
          this.expect(">");
          return { kind: "map", key, value, frozen };
        }
        case "tuple": {
          this.expect("<");
          const elements = [this.type(false)];
          while (this.peek(",")) {
            this.expect(",");
            elements.push(this.type(false));
          }
          this.expect(">");
          return { kind: "tuple", elements };
        }
        case "vector": {
          this.expect("<");
          const element = this.type(false);
          this.expect(",");
          const dimensions = this.integer();
          this.expect(">");
          return { kind: "vector", element, dimensions };
        }
      }
      if ((nativeTypeNames as readonly string[]).includes(lower)) {
        return { kind: "native", name: lower as NativeTypeName };
      }
    }
    return { kind: "udt", name: name.quoted ? name.value : lower, frozen };
  }

  end(): void {
    this.skipSpace();
    if (this.pos !== this.text.length) this.fail("unexpected trailing text");
  }

  private identifier(): { value: string; quoted: boolean } {
    this.skipSpace();
    if (this.text[this.pos] === '"') {
      let value = "";
      this.pos++;
      for (;;) {
        const c = this.text[this.pos];
        if (c === undefined) this.fail("unterminated quoted name");
        if (c === '"') {
          if (this.text[this.pos + 1] === '"') {
            value += '"';
            this.pos += 2;
            continue;
          }
          this.pos++;
          return { value, quoted: true };
        }
        value += c;
        this.pos++;
      }
    }
    const match = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos));
    if (!match) this.fail("expected a type name");
    this.pos += match[0].length;
    return { value: match[0], quoted: false };
  }

  private integer(): number {
    this.skipSpace();
    const match = /^\d+/.exec(this.text.slice(this.pos));
    if (!match) this.fail("expected a number");
    this.pos += match[0].length;
    return Number(match[0]);
  }

  private peek(token: string): boolean {
    this.skipSpace();
    return this.text.startsWith(token, this.pos);
  }

  private expect(token: string): void {
    if (!this.peek(token)) this.fail(`expected '${token}'`);
    this.pos += token.length;
  }

  private skipSpace(): void {
    while (this.text[this.pos] === " ") this.pos++;
  }

  private fail(why: string): never {
    throw new CqlTypeError(`cannot parse CQL type "${this.text}": ${why} at offset ${this.pos}`);
  }
}

/** Prints a type back as CQL, quoting UDT names only when needed. */
export function formatCqlType(type: CqlType): string {
  switch (type.kind) {
    case "native":
      return type.name;
    case "list":
    case "set": {
      const inner = `${type.kind}<${formatCqlType(type.element)}>`;
      return type.frozen ? `frozen<${inner}>` : inner;
    }
    case "map": {
      const inner = `map<${formatCqlType(type.key)}, ${formatCqlType(type.value)}>`;
      return type.frozen ? `frozen<${inner}>` : inner;
    }
    case "tuple":
      return `frozen<tuple<${type.elements.map(formatCqlType).join(", ")}>>`;
    case "udt":
      return type.frozen ? `frozen<${quoteIdentifier(type.name)}>` : quoteIdentifier(type.name);
    case "vector":
      return `vector<${formatCqlType(type.element)}, ${type.dimensions}>`;
  }
}

/** CQL identifiers: lower-case unquoted names pass as they are; everything else is quoted. */
export function quoteIdentifier(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) && !reservedWords.has(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

// Words that cannot be used unquoted as identifiers (a conservative subset of CQL's reserved words).
const reservedWords = new Set([
  "add", "allow", "alter", "and", "apply", "asc", "authorize", "batch", "begin", "by", "columnfamily", "create",
  "delete", "desc", "describe", "drop", "entries", "execute", "from", "full", "grant", "if", "in", "index",
  "infinity", "insert", "into", "is", "keyspace", "limit", "materialized", "mbean", "mbeans", "modify", "nan",
  "norecursive", "not", "null", "of", "on", "or", "order", "primary", "rename", "replace", "revoke", "schema",
  "select", "set", "table", "to", "token", "truncate", "unlogged", "unset", "update", "use", "using", "view",
  "where", "with",
]);
