import { spawn, type ChildProcessByStdio } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import cassandra from "cassandra-driver";
import type { SnapshotManifest, SnapshotTable } from "@devenv/protocol";
import { parseCqlType, quoteIdentifier, type CqlType } from "../cql/cql-type.ts";
import type { UserTypes } from "../cql/value-codec.ts";
import { SnapshotError } from "../errors.ts";
import { createTypeStatement } from "../schema/keyspace-schema.ts";

/**
 * The physical load path: a small Java program (SSTableImport.java, run on the node's
 * own Cassandra jars) reads the verified chunk files, binds each row exactly as a
 * prepared INSERT from this process would, writes SSTables with CQLSSTableWriter on two
 * threads, and the node imports them over JMX like `nodetool import`. The node then
 * spends nothing on commit log, memtables or flushes for them. When the helper meets a
 * value it does not read exactly as the driver would, the rows are encoded here and
 * streamed to it instead. Only possible when the node runs on this machine.
 */

/** What a local node tells about itself over CQL (system_views), enough to import into it. */
export interface LocalNode {
  jmxHost: string;
  jmxPort: number;
  /** The node's own jars: the SSTables are written by the same Cassandra version that imports them. */
  jars: string[];
  partitioner: string;
  /** Decides which SSTable version the node writes and accepts (5.0: CASSANDRA_4 → "nb"). */
  storageCompatibilityMode: string;
}

/** The node behind `client`, when it runs on this machine and exposes what an import needs; else undefined. */
export async function findLocalNode(client: cassandra.Client): Promise<LocalNode | undefined> {
  // one node, on this machine: a cluster's other replicas would never see the SSTables
  const hosts = client.hosts.values().map((h) => h.address.replace(/:\d+$/, "").replace(/^\[(.*)\]$/, "$1"));
  if (hosts.length !== 1 || !isLocalAddress(hosts[0]!)) return undefined;
  try {
    const props = await client.execute(
      "SELECT name, value FROM system_views.system_properties WHERE name IN ('cassandra.jmx.local.port', 'java.class.path')",
    );
    const byName = new Map(props.rows.map((r) => [r.get("name") as string, r.get("value") as string]));
    const jmxPort = Number(byName.get("cassandra.jmx.local.port"));
    const jars = (byName.get("java.class.path") ?? "").split(":").filter((p) => p.endsWith(".jar"));
    if (!Number.isInteger(jmxPort) || jmxPort <= 0 || !jars.some((j) => /cassandra-all-[^/]*\.jar$/.test(j)) || !jars.every(existsSync)) {
      return undefined;
    }
    const local = await client.execute("SELECT partitioner FROM system.local");
    const partitioner = local.first()?.get("partitioner") as string | undefined;
    if (!partitioner) return undefined;
    const mode = await client.execute("SELECT value FROM system_views.settings WHERE name = 'storage_compatibility_mode'");
    const storageCompatibilityMode = mode.first()?.get("value") as string | undefined;
    if (!storageCompatibilityMode) return undefined;
    return { jmxHost: "127.0.0.1", jmxPort, jars, partitioner, storageCompatibilityMode };
  } catch {
    // an older node without system_views, or no permission to read it: CQL it is
    return undefined;
  }
}

function isLocalAddress(host: string): boolean {
  if (host === "localhost" || host.startsWith("127.") || host === "::1") return true;
  if (isIP(host) === 0) return false;
  return Object.values(networkInterfaces()).some((addresses) => addresses?.some((a) => a.address === host));
}

/** Tables the physical path loads exactly: no counters (not writable as SSTables), no index to keep in step. */
export function importableTables(manifest: SnapshotManifest): Set<string> {
  const indexed = new Set(
    manifest.schema.statements.flatMap((s) => {
      const match = /^CREATE (?:CUSTOM )?INDEX \S+ ON ("(?:[^"]|"")+"|\w+)/.exec(s);
      return match ? [match[1]!.replace(/^"(.*)"$/, "$1").replaceAll('""', '"')] : [];
    }),
  );
  return new Set(manifest.tables.filter((t) => !t.counter && !indexed.has(t.name)).map((t) => t.name));
}

const helperSource = fileURLToPath(new URL("./sstable/SSTableImport.java", import.meta.url));

/**
 * Which methods the helper's JVM compiles with C2 (HotSpot compiler directives): only the
 * per-byte and per-value code (the JSON reader, UTF-8 validation, serialization); the rest
 * stays with C1. Measured on 600,000 rows: as fast as full tiered compilation on ~1 KiB
 * rows and a third faster than C1 alone, at ~115 MiB resident instead of ~130 MiB.
 */
const compilerDirectives = `[
  { match: ["SSTableImport.*", "SSTableImport$FileLoad.*", "SSTableImport$Lane.*", "SSTableImport$Group.*", "SSTableImport$DirectRows.*"], c2: { Exclude: true } },
  { match: ["SSTableImport$*.*",
            "org/apache/cassandra/serializers/UTF8Serializer$UTF8Validator.*",
            "org/apache/cassandra/db/marshal/ByteBufferAccessor.*",
            "org/apache/cassandra/io/util/BufferedDataOutputStreamPlus.*",
            "org/apache/cassandra/db/rows/UnfilteredSerializer.*",
            "org/apache/cassandra/db/rows/Cell$Serializer.*",
            "org/apache/cassandra/db/rows/EncodingStats$Collector.*",
            "org/apache/cassandra/io/sstable/metadata/MetadataCollector.*",
            "org/apache/cassandra/utils/MurmurHash.*",
            "org/apache/cassandra/utils/btree/BTree.*"], c2: { Exclude: false } },
  { match: "*.*", c2: { Exclude: true } }
]
`;

/** Compiles the helper once per source and Cassandra version into the cache. */
async function compiledHelper(cacheDir: string, jars: readonly string[]): Promise<string> {
  const source = await readFile(helperSource);
  const cassandraJar = jars.find((j) => /cassandra-all-[^/]*\.jar$/.test(j))!;
  const key = createHash("sha256").update(source).update(cassandraJar).update(compilerDirectives).digest("hex").slice(0, 16);
  const dir = join(cacheDir, "sstable-import", key);
  if (existsSync(join(dir, "SSTableImport.class"))) return dir;
  const building = `${dir}.${randomBytes(4).toString("hex")}.tmp`;
  await mkdir(building, { recursive: true });
  try {
    // a small compiler JVM: the first restore on a machine stays under its memory bound too (~115 MiB, not ~180)
    const small = ["-J-Xms16m", "-J-Xmx96m", "-J-XX:+UseSerialGC", "-J-XX:TieredStopAtLevel=1", "-J-XX:ReservedCodeCacheSize=16m"];
    await runToEnd(jdkTool("javac"), [...small, "-nowarn", "-cp", jars.join(":"), "-d", building, helperSource]);
    await writeFile(join(building, "compiler-directives.json"), compilerDirectives);
    // a concurrent restore may have won the race; either copy is the same
    await rename(building, dir).catch(async () => rm(building, { recursive: true, force: true }));
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
  return dir;
}

/** The JDK the node tooling uses too: DEVENV_JAVA's folder, JAVA_HOME, else PATH. */
function jdkTool(name: "java" | "javac"): string {
  const java = process.env.DEVENV_JAVA;
  if (java) return join(dirname(java), name);
  if (process.env.JAVA_HOME) return join(process.env.JAVA_HOME, "bin", name);
  return name;
}

function runToEnd(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${command} failed (${code}): ${stderr.trim()}`))));
  });
}

/** The JVM options CQLSSTableWriter needs on JDK 17, and a small footprint: a restore stays under 256 MiB. */
const jvmOptions = [
  // the sorted writers hold one partition at a time; a partition too big for this heap ends
  // the helper (ExitOnOutOfMemoryError) and the restore finishes that table by CQL
  "-Xms16m",
  "-Xmx64m",
  "-XX:+UseSerialGC",
  // C2 for a few hot methods only (see compilerDirectives)
  "-XX:+UnlockDiagnosticVMOptions",
  "-XX:ReservedCodeCacheSize=16m",
  "-XX:MaxMetaspaceSize=96m",
  "-Xss512k",
  "-XX:+ExitOnOutOfMemoryError",
  "-Djava.net.preferIPv4Stack=true",
  "--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED",
  "--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED",
  "--add-opens=java.base/java.lang=ALL-UNNAMED",
  "--add-opens=java.base/java.nio=ALL-UNNAMED",
  "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
  "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
  "--add-opens=java.base/java.io=ALL-UNNAMED",
  "--add-opens=java.base/java.util=ALL-UNNAMED",
  "-Dio.netty.tryReflectionSetAccessible=true",
  "-Dcassandra.disable_tcactive_openssl=true",
];

/**
 * glibc settings that keep a process's freed memory from staying resident: few arenas
 * (one per thread otherwise), and buffers of 128 KiB and more in mappings of their own,
 * which go back to the system when freed. apps/cli's launcher sets the same for the restore.
 */
const smallMallocEnv = { MALLOC_ARENA_MAX: "2", MALLOC_MMAP_THRESHOLD_: "131072" };

/** The subset of the driver's (untyped) Encoder that serializes one bound value. */
interface ValueEncoder {
  encode(value: unknown, typeInfo: unknown): Buffer | null | undefined;
}
const DriverEncoder = (cassandra as unknown as { Encoder: new (protocolVersion: number, options: object) => ValueEncoder }).Encoder;

/** One running helper; tables are written group by group, each group imported as a whole. */
export class SSTableImport {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly replies: AsyncIterator<string>;
  private readonly encoder: ValueEncoder;
  private readonly sstableDir: string;
  private stderr = "";
  private readonly out = new FrameBuffer();
  private exited: Promise<void>;

  private constructor(child: ChildProcessByStdio<Writable, Readable, Readable>, sstableDir: string, encodingOptions: object) {
    this.child = child;
    this.sstableDir = sstableDir;
    this.replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
      if (process.env.DEVENV_DEBUG) process.stderr.write(d);
    });
    // protocol v4 and v5 serialize bound values the same way
    this.encoder = new DriverEncoder(cassandra.types.protocolVersion.v4, encodingOptions);
    this.exited = new Promise((resolve) => child.on("close", () => resolve()));
    // a failed spawn or a closed pipe shows as the helper having exited (see reply)
    child.stdin.on("error", () => {});
    child.on("error", (error) => {
      this.stderr += `${error.message}\n`;
    });
  }

  /** Compiles (first time) and starts the helper; it is ready once it reached the node's JMX. */
  static async start(node: LocalNode, options: { cacheDir: string; sstableDir: string; encodingOptions: object }): Promise<SSTableImport> {
    const helperDir = await compiledHelper(options.cacheDir, node.jars);
    await rm(options.sstableDir, { recursive: true, force: true });
    await mkdir(options.sstableDir, { recursive: true });
    const child = spawn(
      jdkTool("java"),
      [
        ...jvmOptions,
        ...(process.env.DEVENV_SSTABLE_JAVA_OPTS ?? "").split(/\s+/).filter(Boolean),
        `-XX:CompilerDirectivesFile=${join(helperDir, "compiler-directives.json")}`,
        "-cp",
        // without logback, slf4j logs nothing: its start-up and memory are not worth a writer's warnings
        [helperDir, ...node.jars.filter((jar) => !/\/logback-[^/]*\.jar$/.test(jar))].join(":"),
        "SSTableImport",
        node.jmxHost,
        String(node.jmxPort),
        node.partitioner,
        node.storageCompatibilityMode,
      ],
      { stdio: ["pipe", "pipe", "pipe"], env: { ...process.env, ...smallMallocEnv } },
    );
    const helper = new SSTableImport(child, options.sstableDir, options.encodingOptions);
    const first = await helper.reply();
    if (first !== "ready") {
      await helper.close();
      throw new Error(first);
    }
    return helper;
  }

  /**
   * Has the helper read the chunk files itself (gzip NDJSON, verified beforehand), bind
   * their rows and write them as SSTables with `workers` threads, then, once `beforeImport`
   * resolved, import them into keyspace.table. Resolves with each file's row count, or with
   * `unparsed` (why) when a value is not one the helper reads exactly as the driver would:
   * then nothing was imported and the helper waits for the next group. A file that does not
   * hold the rows the manifest says is a corrupt snapshot.
   */
  async importFiles(
    keyspace: string,
    table: SnapshotTable,
    manifest: SnapshotManifest,
    userTypes: UserTypes,
    statements: readonly { query: string; columns: readonly number[] }[],
    files: readonly { path: string; rows: number }[],
    options: { workers: number; onRows: (rows: number) => void; signal: AbortSignal; beforeImport: () => Promise<void> },
  ): Promise<{ rows: number[] } | { unparsed: string }> {
    const dir = this.groupHeader(keyspace, table, manifest, statements.map((s) => s.query));
    try {
      this.out.byte(0x46); // 'F'
      this.out.int32(options.workers);
      this.out.int32(table.columns.length);
      for (const column of table.columns) writeType(this.out, parseCqlType(column.type), userTypes);
      this.out.int32(statements.length);
      for (const statement of statements) this.int32s(statement.columns);
      this.int32s(table.columns.flatMap((c, i) => (c.kind === "clustering" ? [i] : [])));
      this.out.int32(files.length);
      for (const file of files) {
        this.out.utf8(file.path);
        this.out.int64(file.rows);
      }
      await this.flush();
      const written = await this.reply(options.onRows, options.signal);
      if (written.startsWith("unparsed ")) return { unparsed: written.slice("unparsed ".length) };
      if (written.startsWith("corrupt ")) throw new SnapshotError("corrupt", written.slice("corrupt ".length));
      const counts = /^written((?: \d+)*)$/.exec(written);
      if (!counts) throw new Error(written);
      await options.beforeImport();
      this.out.byte(0x49); // 'I'
      await this.flush();
      const imported = await this.reply(() => {}, options.signal);
      if (imported !== "imported") throw new Error(imported);
      return { rows: counts[1]!.trim().split(" ").filter(Boolean).map(Number) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Writes the rows `rowsOf` yields (encoded here) as SSTables and, once `beforeImport` resolved, imports them into keyspace.table. */
  async importRows(
    keyspace: string,
    table: SnapshotTable,
    manifest: SnapshotManifest,
    /** Per statement, the driver's type of each bound value. */
    typeInfos: readonly (readonly unknown[])[],
    statements: readonly string[],
    rowsOf: () => AsyncIterable<{ statement: number; values: readonly unknown[] }>,
    options: { signal: AbortSignal; beforeImport: () => Promise<void> },
  ): Promise<void> {
    const dir = this.groupHeader(keyspace, table, manifest, statements);
    try {
      for await (const row of rowsOf()) {
        this.out.byte(0x52); // 'R'
        this.out.byte(row.statement);
        this.out.int32(row.values.length);
        const types = typeInfos[row.statement]!;
        for (let i = 0; i < row.values.length; i++) {
          const value = row.values[i];
          const bytes = value === undefined ? undefined : this.encoder.encode(value, types[i]);
          if (bytes === undefined || bytes === null) {
            this.out.int32(-1);
          } else {
            this.out.int32(bytes.length);
            this.out.bytes(bytes);
          }
        }
        if (this.out.length >= 256 * 1024) await this.flush();
      }
      this.out.byte(0x57); // 'W'
      await this.flush();
      const written = await this.reply(() => {}, options.signal);
      if (written !== "written") throw new Error(written);
      await options.beforeImport();
      this.out.byte(0x49); // 'I'
      await this.flush();
      const imported = await this.reply(() => {}, options.signal);
      if (imported !== "imported") throw new Error(imported);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Starts a group ('G'): where its SSTables go, the table, its types and insert statements. Returns the folder. */
  private groupHeader(keyspace: string, table: SnapshotTable, manifest: SnapshotManifest, statements: readonly string[]): string {
    const dir = join(this.sstableDir, `${table.name}-${randomBytes(6).toString("hex")}`);
    const ks = quoteIdentifier(keyspace);
    const createTable = manifest.schema.statements.find((s) => s.startsWith(`CREATE TABLE ${quoteIdentifier(table.name)} `))!;
    const types = manifest.schema.types.map((t) => createTypeStatement(t).replace(/^CREATE TYPE /, `CREATE TYPE ${ks}.`));
    this.out.byte(0x47); // 'G'
    for (const text of [dir, keyspace, table.name, createTable.replace(/^CREATE TABLE /, `CREATE TABLE ${ks}.`)]) this.out.utf8(text);
    this.out.int32(types.length);
    for (const type of types) this.out.utf8(type);
    this.out.int32(statements.length);
    for (const statement of statements) this.out.utf8(statement);
    this.out.int32(table.columns.filter((c) => c.kind === "partition_key").length);
    return dir;
  }

  private int32s(values: readonly number[]): void {
    this.out.int32(values.length);
    for (const v of values) this.out.int32(v);
  }

  private async flush(): Promise<void> {
    const { data, release } = this.out.take();
    if (data.length === 0) return release();
    // Queue up to a MiB before waiting: the helper then always finds data in the pipe
    // (64 KiB) without waiting for this process to be scheduled, on a busy machine too.
    if (!this.child.stdin.write(data, release) && this.child.stdin.writableLength > 1024 * 1024) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = () => {
          this.child.off("close", onClose);
          resolve();
        };
        const onClose = () => {
          this.child.stdin.off("drain", onDrain);
          reject(new Error(`the SSTable writer stopped: ${this.stderr.trim().split("\n").at(-1) ?? ""}`));
        };
        this.child.stdin.once("drain", onDrain);
        this.child.once("close", onClose);
      });
    }
  }

  /** The helper's next reply; its row counts go to `onRows` meanwhile. Aborting ends the helper. */
  private async reply(onRows: (rows: number) => void = () => {}, signal?: AbortSignal): Promise<string> {
    const onAbort = () => this.child.kill("SIGKILL");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const next = await this.replies.next();
        signal?.throwIfAborted();
        if (next.done) return `the SSTable writer exited: ${this.stderr.trim().split("\n").slice(-3).join(" ")}`;
        // the JVM may print its own lines on stdout; replies carry a prefix
        if (!next.value.startsWith("@devenv ")) continue;
        const reply = next.value.slice("@devenv ".length);
        if (reply.startsWith("rows ")) onRows(Number(reply.slice("rows ".length)));
        else return reply.replace(/^failed /, "");
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Ends the helper; SSTables of an unfinished group are never imported. */
  async close(): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
    await rm(this.sstableDir, { recursive: true, force: true });
  }
}

/** Big-endian frames for the helper's DataInputStream, built in one growing buffer. */
class FrameBuffer {
  private buffer: Buffer = Buffer.allocUnsafe(512 * 1024);
  private readonly spare: Buffer[] = [];
  length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + n));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }

  byte(n: number): void {
    this.room(1);
    this.buffer[this.length++] = n;
  }

  int32(n: number): void {
    this.room(4);
    this.buffer.writeInt32BE(n, this.length);
    this.length += 4;
  }

  int64(n: number): void {
    this.room(8);
    this.buffer.writeBigInt64BE(BigInt(n), this.length);
    this.length += 8;
  }

  bytes(data: Buffer): void {
    this.room(data.length);
    data.copy(this.buffer, this.length);
    this.length += data.length;
  }

  utf8(text: string): void {
    const data = Buffer.from(text, "utf8");
    this.int32(data.length);
    this.bytes(data);
  }

  /**
   * The bytes so far, and the buffer to give back once they are written: the next frames
   * go into a spare one. Reusing buffers keeps a restore's memory flat: a fresh buffer per
   * write is freed only when V8 gets round to it.
   */
  take(): { data: Buffer; release: () => void } {
    const full = this.buffer;
    const data = full.subarray(0, this.length);
    this.buffer = this.spare.pop() ?? Buffer.allocUnsafe(full.length);
    this.length = 0;
    return {
      data,
      release: () => {
        if (this.spare.length < 4 && full.length === this.buffer.length) this.spare.push(full);
      },
    };
  }
}

/** A column type for the helper (SSTableImport.readType), user types spelled out field by field. */
function writeType(out: FrameBuffer, type: CqlType, userTypes: UserTypes): void {
  switch (type.kind) {
    case "native":
      out.byte(0x4e); // 'N'
      out.utf8(type.name);
      return;
    case "list":
    case "set":
      out.byte(type.kind === "list" ? 0x4c : 0x53); // 'L' 'S'
      writeType(out, type.element, userTypes);
      return;
    case "map":
      out.byte(0x4d); // 'M'
      writeType(out, type.key, userTypes);
      writeType(out, type.value, userTypes);
      return;
    case "tuple":
      out.byte(0x54); // 'T'
      out.int32(type.elements.length);
      for (const element of type.elements) writeType(out, element, userTypes);
      return;
    case "udt": {
      const fields = userTypes.get(type.name);
      if (!fields) throw new Error(`unknown user type "${type.name}"`);
      out.byte(0x55); // 'U'
      out.int32(fields.length);
      for (const field of fields) {
        out.utf8(field.name);
        writeType(out, field.type, userTypes);
      }
      return;
    }
    case "vector":
      out.byte(0x56); // 'V'
      out.int32(type.dimensions);
      writeType(out, type.element, userTypes);
      return;
  }
}
