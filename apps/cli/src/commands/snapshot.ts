import { join } from "node:path";
import { Command, Option } from "commander";
import type { TransferProgress } from "@devenv/protocol";
import {
  connectCassandra,
  exportSnapshot,
  listSnapshotIds,
  parseContactPoints,
  readManifest,
  restoreSnapshot,
  verifySnapshot,
} from "@devenv/snapshot";
import { CliError } from "../errors.ts";
import type { Output } from "../output.ts";
import type { CommandContext } from "../program.ts";
import { formatBytes, formatProgress } from "../progress-line.ts";
import { positiveInt } from "./options.ts";
import { openStoreOrFail, resolveSnapshot } from "./snapshot-location.ts";

export function snapshotCommand(context: CommandContext): Command {
  const snapshot = new Command("snapshot").description("export, restore, verify and list snapshots");

  snapshot
    .command("export")
    .description("scan a keyspace by token ranges into a snapshot (content-addressed chunks + manifest)")
    .addOption(contactPointsOption())
    .addOption(datacenterOption())
    .requiredOption("--keyspace <name>", "keyspace to export")
    .option("--tables <list>", "only these tables (comma-separated)")
    .requiredOption("--to <store>", "directory or s3://bucket/prefix to write to")
    .option("--id <id>", "snapshot id (default: <keyspace>-<UTC timestamp>)")
    .option("--description <text>", "where the data came from")
    .option("--chunk-size <MiB>", "target uncompressed chunk size", positiveInt("--chunk-size"), 8)
    .option("--chunks <n>", "fixed chunk count per table (overrides --chunk-size)", positiveInt("--chunks"))
    .option("--concurrency <n>", "token ranges scanned at once", positiveInt("--concurrency"), 4)
    .option("--json", "print the manifest summary as JSON")
    .action(async (opts: ExportFlags) => {
      const output = context.output(opts.json);
      const store = openStoreOrFail(opts.to);
      const client = await connectCassandra({ contactPoints: parseContactPoints(opts.contactPoints), localDataCenter: opts.datacenter });
      try {
        const manifest = await exportSnapshot({
          client,
          keyspace: opts.keyspace,
          tables: opts.tables?.split(",").map((t) => t.trim()).filter(Boolean),
          store,
          snapshotId: opts.id,
          description: opts.description,
          targetChunkBytes: opts.chunkSize * 1024 * 1024,
          chunkCount: opts.chunks,
          scanConcurrency: opts.concurrency,
          onProgress: progressPrinter(output),
        });
        output.progressDone();
        output.result({ id: manifest.id, store: store.location, totals: manifest.totals });
        output.line(
          `snapshot ${manifest.id}: ${manifest.totals.tables} tables, ${manifest.totals.rows.toLocaleString("en-US")} rows, ` +
            `${manifest.totals.chunks} chunks, ${formatBytes(manifest.totals.bytes)} in ${store.location}`,
        );
      } finally {
        await client.shutdown();
      }
    });

  snapshot
    .command("restore")
    .description("download and verify every chunk, then replace the keyspace and load it")
    .argument("<from>", "snapshot: <store>/snapshots/<id>, or a store with --id")
    .option("--id <id>", "snapshot id inside the store")
    .addOption(contactPointsOption())
    .addOption(datacenterOption())
    .option("--keyspace <name>", "target keyspace (default: the snapshot's source keyspace)")
    .option("--replication <cql-map>", "replication for the target keyspace", "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    .option("--work-dir <dir>", "chunk cache and restore journals (default: <cache-dir>/restore)")
    .option("--concurrency <n>", "requests in flight against Cassandra", positiveInt("--concurrency"), 256)
    .addOption(
      new Option("--load-path <path>", "auto: import SSTables into a node on this machine, CQL otherwise; cql: CQL only")
        .choices(["auto", "cql"])
        .default("auto"),
    )
    .option("--json", "print the result as JSON")
    .action(async (from: string, opts: RestoreFlags) => {
      const output = context.output(opts.json);
      const { store, id } = await resolveSnapshot(from, opts.id);
      const client = await connectCassandra({
        contactPoints: parseContactPoints(opts.contactPoints),
        localDataCenter: opts.datacenter,
        connectionsPerHost: 4,
      });
      try {
        const result = await restoreSnapshot({
          store,
          snapshotId: id,
          client,
          keyspace: opts.keyspace,
          replication: opts.replication,
          workDir: opts.workDir ?? join(context.config().cacheDir, "restore"),
          requestConcurrency: opts.concurrency,
          loadPath: opts.loadPath,
          cacheDir: context.config().cacheDir,
          onNote: (message) => output.progress(`note: ${message}`),
          onProgress: progressPrinter(output),
        });
        output.progressDone();
        output.result(result);
        output.line(
          `restored ${result.snapshotId} into keyspace ${result.keyspace}: ${result.rows.toLocaleString("en-US")} rows in ` +
            `${result.seconds.total.toFixed(1)} s (download ${result.seconds.download.toFixed(1)} s, ${result.chunksDownloaded} of ` +
            `${result.chunks} chunks fetched; load ${result.seconds.load.toFixed(1)} s` +
            `${result.importedTables.length > 0 ? `, SSTables imported for ${result.importedTables.join(", ")}` : ""})${result.resumed ? ", resumed" : ""}`,
        );
      } finally {
        await client.shutdown();
      }
    });

  snapshot
    .command("verify")
    .description("check every chunk of a snapshot: present, checksum, size and row count")
    .argument("<from>", "snapshot: <store>/snapshots/<id>, or a store with --id")
    .option("--id <id>", "snapshot id inside the store")
    .option("--json", "print the report as JSON")
    .action(async (from: string, opts: { id?: string; json?: boolean }) => {
      const output = context.output(opts.json);
      const { store, id } = await resolveSnapshot(from, opts.id);
      const report = await verifySnapshot(store, id, { onProgress: progressPrinter(output) });
      output.progressDone();
      output.result(report);
      for (const p of report.problems) output.line(`${p.table}: chunk ${p.sha256}: ${p.problem}`);
      if (report.problems.length > 0) {
        throw new CliError("failed", `snapshot ${id} is damaged: ${report.problems.length} of ${report.chunks} chunks failed verification`);
      }
      output.line(`snapshot ${id} is intact: ${report.chunks} chunks, ${report.rows.toLocaleString("en-US")} rows, ${formatBytes(report.bytes)}`);
    });

  snapshot
    .command("ls")
    .description("list the snapshots in a store")
    .argument("<store>", "directory or s3://bucket/prefix")
    .option("--json", "print as JSON")
    .action(async (location: string, opts: { json?: boolean }) => {
      const output = context.output(opts.json);
      const store = openStoreOrFail(location);
      const rows = [];
      for (const id of await listSnapshotIds(store)) {
        const m = await readManifest(store, id);
        rows.push({ id, createdAt: m.createdAt, keyspace: m.source.keyspace, tables: m.totals.tables, rows: m.totals.rows, bytes: m.totals.bytes });
      }
      output.result(rows);
      if (rows.length === 0) output.line(`no snapshots in ${store.location}`);
      for (const r of rows) {
        output.line(`${r.id}  ${r.createdAt}  ${r.keyspace}  ${r.tables} tables  ${r.rows.toLocaleString("en-US")} rows  ${formatBytes(r.bytes)}`);
      }
    });

  snapshot
    .command("show")
    .description("show a snapshot's manifest: schema, tables, chunks")
    .argument("<from>", "snapshot: <store>/snapshots/<id>, or a store with --id")
    .option("--id <id>", "snapshot id inside the store")
    .option("--json", "print the whole manifest as JSON")
    .action(async (from: string, opts: { id?: string; json?: boolean }) => {
      const output = context.output(opts.json);
      const { store, id } = await resolveSnapshot(from, opts.id);
      const m = await readManifest(store, id);
      output.result(m);
      output.line(`snapshot ${m.id} (format ${m.formatVersion}), created ${m.createdAt}`);
      output.line(`source: ${m.source.description} (keyspace ${m.source.keyspace}, Cassandra ${m.source.cassandraVersion ?? "unknown"})`);
      output.line(`totals: ${m.totals.tables} tables, ${m.totals.rows.toLocaleString("en-US")} rows, ${m.totals.chunks} chunks, ${formatBytes(m.totals.bytes)}`);
      for (const t of m.tables) {
        output.line(`  ${t.name.padEnd(24)} ${String(t.rows).padStart(12)} rows  ${String(t.chunks.length).padStart(5)} chunks  ${formatBytes(t.bytes)}`);
      }
    });

  return snapshot;
}

interface ExportFlags {
  contactPoints: string;
  datacenter?: string;
  keyspace: string;
  tables?: string;
  to: string;
  id?: string;
  description?: string;
  chunkSize: number;
  chunks?: number;
  concurrency: number;
  loadPath: "auto" | "cql";
  json?: boolean;
}

interface RestoreFlags {
  id?: string;
  contactPoints: string;
  datacenter?: string;
  keyspace?: string;
  replication: string;
  workDir?: string;
  concurrency: number;
  loadPath: "auto" | "cql";
  json?: boolean;
}

function contactPointsOption(): Option {
  return new Option("--contact-points <host:port,...>", "Cassandra to talk to").env("DEVENV_CONTACT_POINTS").default("127.0.0.1:9042");
}

function datacenterOption(): Option {
  return new Option("--datacenter <name>", "local data center of the contact points").env("DEVENV_DATACENTER").default("datacenter1");
}



function progressPrinter(output: Output): (p: TransferProgress) => void {
  return (p) => {
    if (p.phase !== "done") output.progress(formatProgress(p));
  };
}
