import { join } from "node:path";
import type { BenchShape } from "./data-shapes.ts";

export const loaderNames = ["ours", "dsbulk", "cqlsh", "naive"] as const;
export type LoaderName = (typeof loaderNames)[number];

/** What one shape's loaders start from: the same rows as a snapshot and as CSV. */
export interface ShapeInputs {
  shape: BenchShape;
  rows: number;
  /** `<store>/snapshots/<id>`, as the CLI takes it. */
  snapshotPath: string;
  /** Uncompressed NDJSON bytes of the snapshot's chunks (the manifest's rawBytes). */
  ndjsonBytes: number;
  csvPath: string;
  csvBytes: number;
  csvColumns: readonly string[];
}

export interface LoaderSetup {
  repoRoot: string;
  /** host:port */
  contactPoint: string;
  localDataCenter: string;
  /** A fresh keyspace for this load. */
  keyspace: string;
  /** A fresh folder for this load (our chunk cache), removed after it. */
  workDir: string;
  /** Kept when a load fails: the loaders' own logs go here. */
  logDir: string;
  seed: number;
  naiveRows: number;
  cqlsh: { bin: string; processes: number } | undefined;
  dsbulk: { java: string; libDir: string; javaOptions: readonly string[] } | undefined;
  /** Node's --cpu-prof output folder for our restore, when profiling. */
  cpuProfDir: string | undefined;
}

export interface LoaderInvocation {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Rows this run loads: the naive loader loads only a sample. */
  rows: number;
  bytes: number;
  bytesKind: "NDJSON" | "CSV";
  /** Ours creates its keyspace (the DDL is in the snapshot); the bench creates the peers' table beforehand. */
  createsSchema: boolean;
  /** Reads what the loader printed on success: notes for the report. */
  interpret(output: { stdout: string; stderr: string }): string[];
}

/** The command line of each loader, tuned as described in test/bench/README.md. */
export function loaderInvocation(loader: LoaderName, input: ShapeInputs, setup: LoaderSetup): LoaderInvocation {
  const [host, port = "9042"] = setup.contactPoint.split(":");
  const table = `${setup.keyspace}.${input.shape.table}`;
  switch (loader) {
    case "ours":
      return {
        command: join(setup.repoRoot, "apps/cli/bin/devenv"),
        args: [
          "snapshot",
          "restore",
          input.snapshotPath,
          "--contact-points",
          setup.contactPoint,
          "--datacenter",
          setup.localDataCenter,
          "--keyspace",
          setup.keyspace,
          // an empty chunk cache: download and verification are part of the time
          "--work-dir",
          join(setup.workDir, "restore"),
          "--json",
        ],
        env: {
          ...process.env,
          ...(setup.cpuProfDir ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${setup.cpuProfDir}` } : {}),
        },
        rows: input.rows,
        bytes: input.ndjsonBytes,
        bytesKind: "NDJSON",
        createsSchema: true,
        interpret: ({ stdout }) => interpretOurs(stdout),
      };
    case "dsbulk": {
      if (!setup.dsbulk) throw new Error("dsbulk is not installed");
      return {
        command: setup.dsbulk.java,
        args: [
          ...setup.dsbulk.javaOptions,
          "-cp",
          `${setup.dsbulk.libDir}/*`,
          "com.datastax.oss.dsbulk.runner.DataStaxBulkLoader",
          "load",
          "-url",
          input.csvPath,
          "-k",
          setup.keyspace,
          "-t",
          input.shape.table,
          "-h",
          host!,
          "-port",
          port,
          "-dc",
          setup.localDataCenter,
          "-header",
          "true",
          // values are HOCON: a lone " would open a string. Delimiter and quote are the defaults (, and ")
          "-escape",
          '"\\""',
          // the CSV's timestamps are epoch milliseconds (see csv-from-snapshot.ts)
          "--codec.timestamp",
          "UNITS_SINCE_EPOCH",
          "--codec.unit",
          "MILLISECONDS",
          // rows grouped by replica rather than by partition, as cqlsh (and a tuned ours) does: twice the default's rate here
          "--batch.mode",
          "REPLICA_SET",
          // any rejected row is a failed run, not a footnote in a log
          "-maxErrors",
          "0",
          "-logDir",
          join(setup.logDir, `dsbulk-${input.shape.name}`),
        ],
        env: process.env,
        rows: input.rows,
        bytes: input.csvBytes,
        bytesKind: "CSV",
        createsSchema: false,
        interpret: ({ stdout, stderr }) => {
          // its closing summary (on stderr): a header line ("total | failed | rows/s | ...") and one line of figures
          const lines = `${stdout}\n${stderr}`.split("\n");
          const header = lines.findIndex((line) => /^\s*total\s*\|/.test(line));
          const figures = header === -1 ? undefined : lines[header + 1];
          if (!figures) return [];
          const squeeze = (line: string) => line.trim().replace(/\s+/g, " ");
          return [`dsbulk: ${squeeze(lines[header]!)} = ${squeeze(figures)}`];
        },
      };
    }
    case "cqlsh": {
      if (!setup.cqlsh) throw new Error("cqlsh is not installed");
      const copy =
        `COPY ${table} (${input.csvColumns.join(", ")}) FROM '${input.csvPath}' WITH HEADER = true AND ESCAPE = '"'` +
        ` AND NUMPROCESSES = ${setup.cqlsh.processes} AND INGESTRATE = 10000000 AND CHUNKSIZE = 5000` +
        ` AND MINBATCHSIZE = 10 AND MAXBATCHSIZE = 20 AND MAXPARSEERRORS = 0 AND MAXINSERTERRORS = 0`;
      return {
        command: setup.cqlsh.bin,
        args: [
          host!,
          port,
          // a missing file: no user's cqlshrc changes the measured setup
          `--cqlshrc=${join(setup.workDir, "cqlshrc")}`,
          "--request-timeout=600",
          "--connect-timeout=60",
          "-e",
          copy,
        ],
        env: process.env,
        rows: input.rows,
        bytes: input.csvBytes,
        bytesKind: "CSV",
        createsSchema: false,
        interpret: ({ stdout }) => {
          const imported = /(\d+) rows imported from (\d+) files? in ([^(]+)\((\d+) skipped\)/.exec(stdout);
          if (!imported) return [];
          if (imported[4] !== "0") throw new Error(`cqlsh skipped ${imported[4]} rows`);
          return [`cqlsh: ${imported[0]}`];
        },
      };
    }
    case "naive": {
      const rows = Math.min(input.rows, setup.naiveRows);
      return {
        command: process.execPath,
        args: [
          "--conditions=devenv-source",
          join(setup.repoRoot, "test/bench/naive-insert.ts"),
          setup.contactPoint,
          setup.localDataCenter,
          setup.keyspace,
          input.shape.name,
          String(rows),
          String(setup.seed),
        ],
        env: process.env,
        rows,
        // the CSV bytes of the rows it loads (the first `rows` of the data set, about the average size)
        bytes: Math.round((input.csvBytes * rows) / input.rows),
        bytesKind: "CSV",
        createsSchema: false,
        interpret: () => [],
      };
    }
  }
}

interface OursResult {
  rows: number;
  importedTables?: string[];
  chunks: number;
  chunksDownloaded: number;
  seconds: { download: number; schema: number; load: number; total: number };
}

function interpretOurs(stdout: string): string[] {
  const start = stdout.indexOf("{");
  if (start === -1) return [];
  const result = JSON.parse(stdout.slice(start)) as OursResult;
  const s = result.seconds;
  return [
    `ours: ${result.chunks} chunks (${result.chunksDownloaded} fetched); inside the CLI: download+verify ${s.download.toFixed(1)} s, ` +
      `schema ${s.schema.toFixed(1)} s, load ${s.load.toFixed(1)} s, total ${s.total.toFixed(1)} s; ` +
      (result.importedTables && result.importedTables.length > 0
        ? `SSTables written and imported for ${result.importedTables.join(", ")}`
        : "loaded by CQL"),
  ];
}
