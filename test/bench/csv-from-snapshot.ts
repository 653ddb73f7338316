import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import { snapshotKeys, type SnapshotTable } from "@devenv/protocol";
import type { BlobStore } from "@devenv/snapshot";

export interface CsvFile {
  path: string;
  rows: number;
  bytes: number;
  columns: string[];
}

type JsonCell = null | boolean | number | string | JsonCell[] | { [key: string]: JsonCell };

/**
 * Writes the rows of an exported table as CSV for the peers, so every loader loads the
 * very rows our exporter produced. The dialect is one that cqlsh COPY FROM
 * (`ESCAPE='"'`, which turns on doubled quotes) and dsbulk (`-escape '"'`) both read
 * back into the same values:
 *  - a header line with the column names;
 *  - text always quoted, a quote inside doubled (RFC 4180), a backslash literal;
 *  - timestamps as integer milliseconds since the epoch (both parse that exactly;
 *    a formatted date goes through floating point seconds in cqlsh);
 *  - doubles in their shortest round-trip decimal form, 64-bit integers and uuids as text.
 */
export async function writeCsvFromSnapshot(store: BlobStore, table: SnapshotTable, path: string): Promise<CsvFile> {
  const formatters = table.columns.map((column) => csvFormatter(column.type, column.name));
  const out = createWriteStream(path);
  const columns = table.columns.map((c) => c.name);
  let pending = `${columns.join(",")}\n`;
  let bytes = 0;
  let rows = 0;
  const flush = async () => {
    bytes += Buffer.byteLength(pending);
    if (!out.write(pending)) await once(out, "drain");
    pending = "";
  };
  try {
    for (const chunk of table.chunks) {
      const body = (await store.get(snapshotKeys.chunk(chunk.sha256))).pipe(createGunzip());
      for await (const line of createInterface({ input: body, crlfDelay: Infinity })) {
        const cells = JSON.parse(line) as JsonCell[];
        let csv = "";
        for (let i = 0; i < formatters.length; i++) csv += (i === 0 ? "" : ",") + formatters[i]!(cells[i] ?? null);
        pending += `${csv}\n`;
        rows++;
        if (pending.length >= 1 << 20) await flush();
      }
    }
    await flush();
  } finally {
    out.end();
    await once(out, "close");
  }
  return { path, rows, bytes, columns };
}

function csvFormatter(type: string, column: string): (cell: JsonCell) => string {
  switch (type) {
    case "text":
    case "varchar":
    case "ascii":
      return (cell) => (cell === null ? "" : `"${String(cell).replaceAll('"', '""')}"`);
    case "bigint":
    case "varint":
    case "decimal":
    case "int":
    case "smallint":
    case "tinyint":
    case "double":
    case "float":
    case "boolean":
    case "uuid":
    case "timeuuid":
    case "timestamp": // the exporter writes epoch milliseconds
      return (cell) => (cell === null ? "" : String(cell));
    default:
      throw new Error(`column ${column}: CSV for type ${type} is not implemented (the bench shapes do not use it)`);
  }
}
