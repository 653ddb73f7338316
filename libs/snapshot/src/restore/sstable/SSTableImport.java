import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import org.apache.cassandra.config.Config;
import org.apache.cassandra.config.DatabaseDescriptor;
import org.apache.cassandra.cql3.ColumnSpecification;
import org.apache.cassandra.cql3.statements.ModificationStatement;
import org.apache.cassandra.db.Clustering;
import org.apache.cassandra.db.DecoratedKey;
import org.apache.cassandra.db.LivenessInfo;
import org.apache.cassandra.db.marshal.AbstractType;
import org.apache.cassandra.db.marshal.AsciiType;
import org.apache.cassandra.db.marshal.ByteBufferAccessor;
import org.apache.cassandra.db.marshal.CompositeType;
import org.apache.cassandra.db.marshal.DurationType;
import org.apache.cassandra.db.marshal.UTF8Type;
import org.apache.cassandra.db.partitions.PartitionUpdate;
import org.apache.cassandra.db.rows.BTreeRow;
import org.apache.cassandra.db.rows.BufferCell;
import org.apache.cassandra.db.rows.Row.Builder;
import org.apache.cassandra.dht.IPartitioner;
import org.apache.cassandra.io.sstable.CQLSSTableWriter;
import org.apache.cassandra.schema.ColumnMetadata;
import org.apache.cassandra.schema.TableMetadata;
import org.apache.cassandra.utils.FBUtilities;
import org.apache.cassandra.utils.StorageCompatibilityMode;
import org.apache.cassandra.utils.vint.VIntCoding;

/**
 * Writes SSTables and has the local node import them over JMX (what `nodetool import`
 * does). Run by libs/snapshot's restore, which speaks to it over stdin/stdout:
 *
 *   stdin  'G' group: dir, keyspace, table, create-table DDL, type DDLs, insert statements,
 *              partition key column count (they come first in every statement)
 *          then either rows encoded by the caller:
 *          'R' row: statement index (byte), value count (int), values (int length, bytes; -1 = unset)
 *          'W' the rows are all sent: close the group's writers
 *          or the chunk files themselves, which this process reads, parses and encodes:
 *          'F' files: worker count, column types (see readType), per statement its column
 *              indexes, clustering column indexes, files (path, rows): the group is written
 *          'I' import the written group (the caller may first wait for its keyspace to exist)
 *   stdout "@devenv ready", then "@devenv written" ('W'), "@devenv imported" ('I'); for 'F'
 *          "@devenv rows <n>" while files are written, then "@devenv written <rows per file>", or
 *          "@devenv unparsed <reason>" (a value this process does not parse exactly as the caller
 *          would) or "@devenv corrupt <reason>" (a file does not hold the rows the caller said),
 *          and the group is dropped; or "@devenv failed <reason>" and the process ends (the JVM
 *          itself may print other lines there)
 *
 * Strings are an int byte length then UTF-8. A file's rows are bound exactly as the
 * caller's driver binds the same JSON values (see Codec), so both inputs write the same cells.
 */
public final class SSTableImport {
  private static final String REPLY = "@devenv ";
  private static PrintStream out;
  private static final long CALLER = callerPid();

  private static long callerPid() {
    return ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L);
  }

  /**
   * The caller was killed (this process was handed to another parent): what is being written
   * is for a restore that no longer runs (and that can no longer ask for its import), so the
   * writing stops.
   */
  static boolean orphaned() {
    return callerPid() != CALLER;
  }

  public static void main(String[] args) throws Exception {
    out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
    // Cassandra's classes log to stdout when unconfigured: keep the protocol channel clean
    System.setOut(System.err);
    String jmxHost = args[0];
    int jmxPort = Integer.parseInt(args[1]);
    IPartitioner partitioner = FBUtilities.newPartitioner(args[2]);
    // write the SSTable version the node itself writes (5.0 keeps 4.x's "nb" in CASSANDRA_4 mode and ignores newer files)
    StorageCompatibilityMode mode = StorageCompatibilityMode.valueOf(args[3]);
    // Client mode forces NONE ("oa" files); the version is fixed when BigVersion is initialised,
    // so set the node's mode first and initialise that class before client initialisation.
    java.lang.reflect.Field modeField = DatabaseDescriptor.class.getDeclaredField("storageCompatibilityMode");
    modeField.setAccessible(true);
    modeField.set(null, mode);
    Class.forName("org.apache.cassandra.io.sstable.format.big.BigFormat$BigVersion", true, SSTableImport.class.getClassLoader());
    DatabaseDescriptor.clientInitialization(false);
    // This process only writes: no memory-mapped reads of what it wrote, and no early opening
    // of SSTables being written, keep its memory flat however much it writes.
    DatabaseDescriptor.setDiskAccessMode(Config.DiskAccessMode.standard);
    DatabaseDescriptor.setIndexAccessMode(Config.DiskAccessMode.standard);
    DatabaseDescriptor.setSSTablePreemptiveOpenIntervalInMiB(-1);
    // the JMX handshake runs while rows arrive; the first import waits for it
    String jmxUrl = "service:jmx:rmi:///jndi/rmi://" + jmxHost + ":" + jmxPort + "/jmxrmi";
    CompletableFuture<JMXConnector> jmx = CompletableFuture.supplyAsync(() -> {
      try {
        return JMXConnectorFactory.connect(new JMXServiceURL(jmxUrl));
      } catch (IOException e) {
        throw new CompletionException("cannot reach JMX at " + jmxHost + ":" + jmxPort + ": " + oneLine(e), e);
      }
    });
    out.println(REPLY + "ready");
    trace("ready");
    DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
    Group group = null;
    try {
      loop:
      while (true) {
        int op;
        try {
          op = in.readUnsignedByte();
        } catch (EOFException e) {
          // the caller went away: leave unfinished SSTables unimported
          break;
        }
        switch (op) {
          case 'G':
            group = Group.read(in, partitioner);
            trace("group " + group.table);
            break;
          case 'R': {
            int statement = in.readUnsignedByte();
            int count = in.readInt();
            List<ByteBuffer> values = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
              int length = in.readInt();
              if (length < 0) {
                values.add(CQLSSTableWriter.UNSET_VALUE);
              } else {
                byte[] bytes = new byte[length];
                in.readFully(bytes);
                values.add(ByteBuffer.wrap(bytes));
              }
            }
            group.lane(0, false).add(statement, values);
            break;
          }
          case 'W':
            trace("rows sent");
            group.close();
            trace("sstables written");
            if (orphaned()) break loop;
            out.println(REPLY + "written");
            break;
          case 'F': {
            FileLoad load = FileLoad.read(in, group);
            String[] counts = load.run();
            if (orphaned()) break loop;
            if (counts == null) {
              out.println(REPLY + (load.corrupt != null ? "corrupt " + load.corrupt : "unparsed " + load.unparsed.getMessage().replace('\n', ' ')));
              group = null;
            } else {
              trace("sstables written");
              out.println(REPLY + "written " + String.join(" ", counts));
            }
            break;
          }
          case 'I':
            out.println(REPLY + importReply(jmx, group));
            group = null;
            break;
          default:
            throw new IOException("unknown request " + op);
        }
      }
    } catch (CompletionException e) {
      out.println(REPLY + "failed " + e.getMessage());
    } catch (Throwable e) {
      out.println(REPLY + "failed " + oneLine(e));
    }
    System.exit(0);
  }

  private static String importReply(CompletableFuture<JMXConnector> jmx, Group group) throws Exception {
    List<String> failed = importInto(jmx.join().getMBeanServerConnection(), group);
    trace("imported");
    return failed.isEmpty() ? "imported" : "failed the node could not import " + failed;
  }

  private static List<String> importInto(MBeanServerConnection server, Group group) throws Exception {
    Set<String> dirs = new HashSet<>();
    for (File dir : group.dirs) {
      String[] files = dir.list();
      if (files != null && files.length > 0) dirs.add(dir.getAbsolutePath());
    }
    if (dirs.isEmpty()) return Collections.emptyList();
    ObjectName table = new ObjectName("org.apache.cassandra.db:type=Tables,keyspace=" + group.keyspace + ",table=" + group.table);
    // srcPaths, resetLevel, clearRepaired, verifySSTables, verifyTokens, invalidateCaches, extendedVerify, copyData
    Object[] params = {dirs, true, true, false, false, true, false, false};
    String[] signature = {"java.util.Set", "boolean", "boolean", "boolean", "boolean", "boolean", "boolean", "boolean"};
    @SuppressWarnings("unchecked")
    List<String> failed = (List<String>) server.invoke(table, "importNewSSTables", params, signature);
    return failed;
  }

  private static final boolean TRACE = Boolean.getBoolean("devenv.trace");
  private static final long STARTED = System.nanoTime();

  private static void trace(String what) {
    if (TRACE) System.err.printf("sstable-import %.2f s: %s%n", (System.nanoTime() - STARTED) / 1e9, what);
  }

  private static String oneLine(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null) root = root.getCause();
    return (e.toString() + (root != e ? " (" + root + ")" : "")).replace('\n', ' ');
  }

  private static String readString(DataInputStream in) throws IOException {
    byte[] bytes = new byte[in.readInt()];
    in.readFully(bytes);
    return new String(bytes, StandardCharsets.UTF_8);
  }

  /** The SSTables of one import, written by one lane per worker. */
  private static final class Group {
    final String keyspace;
    final String table;
    final File dir;
    final IPartitioner partitioner;
    String createTable;
    final List<String> types = new ArrayList<>();
    final List<String> statements = new ArrayList<>();
    int partitionKeyColumns;
    final List<File> dirs = new ArrayList<>();
    final List<Lane> lanes = new ArrayList<>();

    private Group(File dir, String keyspace, String table, IPartitioner partitioner) {
      this.dir = dir;
      this.keyspace = keyspace;
      this.table = table;
      this.partitioner = partitioner;
    }

    static Group read(DataInputStream in, IPartitioner partitioner) throws IOException {
      Group group = new Group(new File(readString(in)), readString(in), readString(in), partitioner);
      group.createTable = readString(in);
      int typeCount = in.readInt();
      for (int i = 0; i < typeCount; i++) group.types.add(readString(in));
      int statementCount = in.readInt();
      for (int i = 0; i < statementCount; i++) group.statements.add(readString(in));
      group.partitionKeyColumns = in.readInt();
      return group;
    }

    /** `parsedHere`: the values come from this process's JSON reader, which validated their text. */
    synchronized Lane lane(int index, boolean parsedHere) {
      while (lanes.size() <= index) lanes.add(new Lane(this, parsedHere));
      return lanes.get(index);
    }

    /** Each writer has a folder of its own: SSTable generations are numbered per folder. */
    synchronized CQLSSTableWriter newWriter(int statement) {
      // the node only imports files under <keyspace>/<table>/, as in its own data directories
      File writerDir = new File(new File(new File(dir, Integer.toString(dirs.size())), keyspace), table);
      writerDir.mkdirs();
      dirs.add(writerDir);
      CQLSSTableWriter.Builder builder = CQLSSTableWriter.builder()
          .inDirectory(writerDir.getAbsolutePath())
          .forTable(createTable)
          .using(statements.get(statement))
          .withPartitioner(partitioner)
          .sorted();
      for (String type : types) builder.withType(type);
      return builder.build();
    }

    void close() throws IOException {
      for (Lane lane : lanes) lane.close();
    }

    void closeQuietly() {
      for (Lane lane : lanes) {
        try {
          lane.close();
        } catch (Throwable ignored) {
          // the group is discarded
        }
      }
    }
  }

  /**
   * One worker's sorted writers, one per insert statement, each holding one partition in
   * memory at a time: rows arrive in token order (a chunk is a token-range scan), and
   * whenever they do not, the writer is closed and the next rows start a new SSTable, so
   * any order still yields valid SSTables.
   */
  private static final class Lane {
    final Group group;
    final boolean parsedHere;
    final CQLSSTableWriter[] writers;
    final DirectRows[] direct;
    final DecoratedKey[] lastKeys;
    long rows;
    long orderBreaks;

    Lane(Group group, boolean parsedHere) {
      this.group = group;
      this.parsedHere = parsedHere;
      this.writers = new CQLSSTableWriter[group.statements.size()];
      this.direct = new DirectRows[group.statements.size()];
      this.lastKeys = new DecoratedKey[group.statements.size()];
    }

    void add(int statement, List<ByteBuffer> values) throws IOException {
      DecoratedKey key = group.partitioner.decorateKey(partitionKey(values));
      DecoratedKey last = lastKeys[statement];
      rows++;
      if (writers[statement] != null && last != null && key.compareTo(last) < 0) {
        // a few sorted runs (chunks out of order) are fine; rows in no order would make an SSTable per row
        if (++orderBreaks > 64 + rows / 1000) throw new IOException("rows are not in token order (" + orderBreaks + " breaks)");
        writers[statement].close();
        writers[statement] = null;
      }
      if (writers[statement] == null) {
        writers[statement] = group.newWriter(statement);
        direct[statement] = parsedHere ? DirectRows.of(writers[statement]) : null;
      }
      lastKeys[statement] = key;
      if (direct[statement] != null) direct[statement].add(key, values);
      else writers[statement].rawAddRow(values);
    }

    private ByteBuffer partitionKey(List<ByteBuffer> values) {
      if (group.partitionKeyColumns == 1) return values.get(0);
      ByteBuffer[] parts = values.subList(0, group.partitionKeyColumns).toArray(new ByteBuffer[0]);
      return CompositeType.build(ByteBufferAccessor.instance, parts);
    }

    void close() throws IOException {
      for (int i = 0; i < writers.length; i++) {
        if (writers[i] != null) writers[i].close();
        writers[i] = null;
      }
    }
  }

  /**
   * Adds rows straight to a sorted writer's partition updates: what an INSERT of the bound
   * values makes (a row with its primary key liveness and a live cell per set value, static
   * cells in the static row), without the CQL layer's per-row binding and its second
   * validation of text the JSON reader has validated already (other values are validated as
   * the CQL layer would). Only for tables without a default TTL whose bound columns are all of
   * single-cell native types; other tables, or a Cassandra whose writer lacks what is used
   * here, go through CQLSSTableWriter.rawAddRow.
   */
  static final class DirectRows {
    private static final MethodHandle WRITER;
    private static final MethodHandle STATEMENT;
    private static final MethodHandle UPDATE_FOR;

    static {
      MethodHandle writer = null;
      MethodHandle statement = null;
      MethodHandle updateFor = null;
      try {
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        java.lang.reflect.Field w = CQLSSTableWriter.class.getDeclaredField("writer");
        w.setAccessible(true);
        java.lang.reflect.Field st = CQLSSTableWriter.class.getDeclaredField("modificationStatement");
        st.setAccessible(true);
        java.lang.reflect.Method m = w.getType().getDeclaredMethod("getUpdateFor", DecoratedKey.class);
        m.setAccessible(true);
        writer = lookup.unreflectGetter(w).asType(MethodType.methodType(Object.class, CQLSSTableWriter.class));
        statement = lookup.unreflectGetter(st).asType(MethodType.methodType(ModificationStatement.class, CQLSSTableWriter.class));
        updateFor = lookup.unreflect(m).asType(MethodType.methodType(PartitionUpdate.Builder.class, Object.class, DecoratedKey.class));
      } catch (ReflectiveOperationException | RuntimeException e) {
        trace("rows go through rawAddRow: " + e);
      }
      WRITER = writer;
      STATEMENT = statement;
      UPDATE_FOR = updateFor;
    }

    private final Object writer;
    private final ColumnMetadata[] columns;
    private final boolean[] validate;
    private final int[] clustering;
    private final int[] regular;
    private final int[] statics;
    private final boolean regularRow;

    private DirectRows(Object writer, ColumnMetadata[] columns, TableMetadata table) {
      this.writer = writer;
      this.columns = columns;
      this.validate = new boolean[columns.length];
      List<Integer> clustering = new ArrayList<>();
      List<Integer> regular = new ArrayList<>();
      List<Integer> statics = new ArrayList<>();
      for (int i = 0; i < columns.length; i++) {
        AbstractType<?> type = columns[i].type;
        validate[i] = !(type instanceof UTF8Type || type instanceof AsciiType);
        if (columns[i].isClusteringColumn()) clustering.add(i);
        else if (columns[i].isStatic()) statics.add(i);
        else if (columns[i].isRegular()) regular.add(i);
      }
      // cells in a row's column order, clustering values in key order
      clustering.sort((a, b) -> Integer.compare(columns[a].position(), columns[b].position()));
      regular.sort((a, b) -> columns[a].compareTo(columns[b]));
      statics.sort((a, b) -> columns[a].compareTo(columns[b]));
      this.clustering = clustering.stream().mapToInt(Integer::intValue).toArray();
      this.regular = regular.stream().mapToInt(Integer::intValue).toArray();
      this.statics = statics.stream().mapToInt(Integer::intValue).toArray();
      // an INSERT that names no clustering column of a table that has some writes its static row only
      this.regularRow = this.clustering.length == table.clusteringColumns().size();
    }

    /** For the writer of one insert statement, or null when its rows must go through rawAddRow. */
    static DirectRows of(CQLSSTableWriter writer) {
      if (UPDATE_FOR == null) return null;
      try {
        ModificationStatement statement = (ModificationStatement) STATEMENT.invokeExact(writer);
        TableMetadata table = statement.metadata();
        if (table.params.defaultTimeToLive != 0 || table.isCounter() || table.isCompactTable()) return null;
        List<ColumnSpecification> bound = statement.getBindVariables();
        ColumnMetadata[] columns = new ColumnMetadata[bound.size()];
        for (int i = 0; i < columns.length; i++) {
          ColumnMetadata column = table.getColumn(bound.get(i).name);
          AbstractType<?> type = column == null ? null : column.type.unwrap();
          if (type == null || type.isMultiCell() || type.isCollection() || type.isUDT() || type.isTuple() || type.isVector() || type.isCounter()) return null;
          columns[i] = column;
        }
        return new DirectRows((Object) WRITER.invokeExact(writer), columns, table);
      } catch (Throwable e) {
        trace("rows go through rawAddRow: " + e);
        return null;
      }
    }

    void add(DecoratedKey key, List<ByteBuffer> values) throws IOException {
      for (int i = 0; i < columns.length; i++) {
        ByteBuffer value = values.get(i);
        if (value == CQLSSTableWriter.UNSET_VALUE) {
          if (!columns[i].isRegular() && !columns[i].isStatic()) throw new IOException("a row without a value for key column " + columns[i].name);
        } else if (validate[i]) {
          columns[i].type.validate(value);
        }
      }
      PartitionUpdate.Builder update;
      try {
        update = (PartitionUpdate.Builder) UPDATE_FOR.invokeExact(writer, key);
      } catch (IOException | RuntimeException | Error e) {
        throw e;
      } catch (Throwable e) {
        throw new IOException(e);
      }
      long now = System.currentTimeMillis();
      long timestamp = now * 1000;
      long nowInSeconds = now / 1000;
      if (regularRow) {
        Builder row = BTreeRow.sortedBuilder();
        if (clustering.length == 0) {
          row.newRow(Clustering.EMPTY);
        } else {
          ByteBuffer[] parts = new ByteBuffer[clustering.length];
          for (int i = 0; i < parts.length; i++) parts[i] = values.get(clustering[i]);
          row.newRow(Clustering.make(parts));
        }
        row.addPrimaryKeyLivenessInfo(LivenessInfo.create(timestamp, nowInSeconds));
        for (int i : regular) {
          ByteBuffer value = values.get(i);
          if (value != CQLSSTableWriter.UNSET_VALUE) row.addCell(BufferCell.live(columns[i], timestamp, value));
        }
        update.add(row.build());
      }
      Builder staticRow = null;
      for (int i : statics) {
        ByteBuffer value = values.get(i);
        if (value == CQLSSTableWriter.UNSET_VALUE) continue;
        if (staticRow == null) {
          staticRow = BTreeRow.sortedBuilder();
          staticRow.newRow(Clustering.STATIC_CLUSTERING);
        }
        staticRow.addCell(BufferCell.live(columns[i], timestamp, value));
      }
      if (staticRow != null) update.add(staticRow.build());
    }
  }

  /** A value this process does not read exactly as the caller would: the caller encodes the group itself. */
  private static final class Unparsed extends Exception {
    Unparsed(String message) {
      super(message, null, false, false);
    }
  }

  /** The files of one group, read, bound and written by `workers` threads. */
  private static final class FileLoad {
    final Group group;
    int workers;
    Codec[] codecs;
    int[][] statementColumns;
    int[] clustering;
    String[] paths;
    long[] expectedRows;
    final long[] counts;
    final java.util.concurrent.atomic.AtomicInteger nextFile = new java.util.concurrent.atomic.AtomicInteger();
    volatile boolean stop;
    volatile Unparsed unparsed;
    String corrupt;
    Throwable failure;

    private FileLoad(Group group, int files) {
      this.group = group;
      this.counts = new long[files];
    }

    static FileLoad read(DataInputStream in, Group group) throws IOException {
      int workers = in.readInt();
      int columns = in.readInt();
      Codec[] codecs = new Codec[columns];
      for (int i = 0; i < columns; i++) codecs[i] = readType(in);
      int[][] statementColumns = new int[in.readInt()][];
      for (int s = 0; s < statementColumns.length; s++) statementColumns[s] = readInts(in);
      int[] clustering = readInts(in);
      int files = in.readInt();
      FileLoad load = new FileLoad(group, files);
      load.workers = Math.max(1, Math.min(workers, files));
      load.codecs = codecs;
      load.statementColumns = statementColumns;
      load.clustering = clustering;
      load.paths = new String[files];
      load.expectedRows = new long[files];
      for (int f = 0; f < files; f++) {
        load.paths[f] = readString(in);
        load.expectedRows[f] = in.readLong();
      }
      return load;
    }

    private static int[] readInts(DataInputStream in) throws IOException {
      int[] values = new int[in.readInt()];
      for (int i = 0; i < values.length; i++) values[i] = in.readInt();
      return values;
    }

    /** Rows per file, or null when a value was not parsed (`unparsed`) or a file's row count is wrong (`corrupt`); throws when writing failed. */
    String[] run() throws Throwable {
      Thread[] threads = new Thread[workers];
      for (int w = 0; w < workers; w++) {
        int lane = w;
        threads[w] = new Thread(() -> work(lane), "writer-" + w);
        threads[w].start();
      }
      for (Thread t : threads) t.join();
      if (orphaned()) {
        group.closeQuietly();
        return null;
      }
      if (failure != null) {
        group.closeQuietly();
        throw failure;
      }
      if (unparsed != null) {
        group.closeQuietly();
        return null;
      }
      for (int f = 0; corrupt == null && f < counts.length; f++) {
        // nothing is imported from a file that does not hold what the caller expects
        if (counts[f] != expectedRows[f]) corrupt = "chunk " + paths[f] + " holds " + counts[f] + " rows, the manifest says " + expectedRows[f];
      }
      if (corrupt != null) {
        group.closeQuietly();
        return null;
      }
      group.close();
      String[] result = new String[counts.length];
      for (int f = 0; f < counts.length; f++) result[f] = Long.toString(counts[f]);
      return result;
    }

    /**
     * Takes the next file until none is left: a worker that is scheduled less (a busy machine)
     * takes fewer. Each worker's files come in the caller's order, so its rows stay in token order.
     */
    private void work(int laneIndex) {
      Lane lane = group.lane(laneIndex, true);
      Row row = new Row(codecs.length);
      try {
        for (int f = nextFile.getAndIncrement(); f < paths.length && !stop; f = nextFile.getAndIncrement()) {
          try (LineReader lines = new LineReader(paths[f])) {
            long rows = 0;
            long unreported = 0;
            while (!stop && lines.next(row.json)) {
              row.parse(codecs);
              bind(lane, row);
              rows++;
              if (++unreported == 16384) {
                out.println(REPLY + "rows " + unreported);
                unreported = 0;
                if (orphaned()) stop = true;
              }
            }
            if (unreported > 0) out.println(REPLY + "rows " + unreported);
            counts[f] = rows;
          }
        }
      } catch (Unparsed e) {
        synchronized (this) {
          if (unparsed == null) unparsed = e;
        }
        stop = true;
      } catch (Throwable e) {
        synchronized (this) {
          if (failure == null) failure = e;
        }
        stop = true;
      }
    }

    /** The statement a row needs, as the caller's TableLoader.insertFor picks it. */
    private void bind(Lane lane, Row row) throws IOException {
      int statement = 0;
      // a partition that holds only static cells comes back with null clustering columns
      for (int c : clustering) {
        if (row.isJsonNull[c]) {
          statement = 1;
          break;
        }
      }
      int[] columns = statementColumns[statement];
      List<ByteBuffer> values = new ArrayList<>(columns.length);
      for (int c : columns) values.add(row.value(c));
      lane.add(statement, values);
    }
  }

  /** One parsed row: each column's bound bytes (or unset). */
  private static final class Row {
    final Json json = new Json();
    final Out out = new Out(4096);
    final int[] starts;
    final int[] ends;
    /** No cell: JSON null, or an empty list or set (the driver binds both as null). */
    final boolean[] isNull;
    /** JSON null itself. */
    final boolean[] isJsonNull;

    Row(int columns) {
      starts = new int[columns];
      ends = new int[columns];
      isNull = new boolean[columns];
      isJsonNull = new boolean[columns];
    }

    void parse(Codec[] codecs) throws Unparsed {
      out.length = 0;
      json.expect('[');
      for (int c = 0; c < codecs.length; c++) {
        if (c > 0) json.expect(',');
        starts[c] = out.length;
        int written = codecs[c].write(json, out);
        ends[c] = out.length;
        // the driver leaves a null value (and an empty list or set) unset: no cell, no tombstone
        isNull[c] = written != Codec.PRESENT;
        isJsonNull[c] = written == Codec.NULL;
      }
      if (json.peek() == ',') throw new Unparsed("a row holds more than " + codecs.length + " values");
      json.expect(']');
      json.end();
    }

    ByteBuffer value(int column) {
      if (isNull[column]) return CQLSSTableWriter.UNSET_VALUE;
      return ByteBuffer.wrap(Arrays.copyOfRange(out.bytes, starts[column], ends[column]));
    }
  }

  /**
   * Lines of a gzip file, each handed to a Json cursor without copying. A damaged file is
   * Unparsed: the caller reads it again and names what is wrong with it.
   */
  private static final class LineReader implements AutoCloseable {
    private final String path;
    private final InputStream in;
    private byte[] buffer = new byte[1 << 17];
    private int start;
    private int end;
    private boolean eof;

    LineReader(String path) throws IOException, Unparsed {
      this.path = path;
      FileInputStream file = new FileInputStream(path);
      try {
        this.in = new GZIPInputStream(file, 1 << 16);
      } catch (java.util.zip.ZipException | EOFException e) {
        file.close();
        throw new Unparsed("chunk " + path + " cannot be decompressed: " + e);
      }
    }

    public void close() throws IOException {
      in.close();
    }

    private int read(int offset, int length) throws IOException, Unparsed {
      try {
        return in.read(buffer, offset, length);
      } catch (java.util.zip.ZipException | EOFException e) {
        throw new Unparsed("chunk " + path + " cannot be decompressed: " + e);
      }
    }

    boolean next(Json json) throws IOException, Unparsed {
      for (int scanned = start; ; ) {
        for (int i = scanned; i < end; i++) {
          if (buffer[i] == '\n') {
            json.reset(buffer, start, i);
            start = i + 1;
            return true;
          }
        }
        if (eof) {
          if (start < end) throw new Unparsed("chunk " + path + " ends without a newline");
          return false;
        }
        // keep the partial line, and make room behind it
        int partial = end - start;
        if (start > 0) {
          System.arraycopy(buffer, start, buffer, 0, partial);
        } else if (partial == buffer.length) {
          buffer = Arrays.copyOf(buffer, buffer.length * 2);
        }
        start = 0;
        end = partial;
        scanned = partial;
        int n = read(end, buffer.length - end);
        if (n < 0) eof = true;
        else end += n;
      }
    }
  }

  /** A growing byte array. */
  private static final class Out {
    byte[] bytes;
    int length;

    Out(int capacity) {
      bytes = new byte[capacity];
    }

    void room(int n) {
      if (length + n > bytes.length) bytes = Arrays.copyOf(bytes, Math.max(bytes.length * 2, length + n));
    }

    void put(int b) {
      room(1);
      bytes[length++] = (byte) b;
    }

    void put(byte[] src, int offset, int n) {
      room(n);
      System.arraycopy(src, offset, bytes, length, n);
      length += n;
    }

    void putInt(int v) {
      room(4);
      putIntAt(length, v);
      length += 4;
    }

    void putIntAt(int at, int v) {
      bytes[at] = (byte) (v >>> 24);
      bytes[at + 1] = (byte) (v >>> 16);
      bytes[at + 2] = (byte) (v >>> 8);
      bytes[at + 3] = (byte) v;
    }

    void putShort(int v) {
      put(v >>> 8);
      put(v);
    }

    void putLong(long v) {
      putInt((int) (v >>> 32));
      putInt((int) v);
    }

    /** Room for a length written later with putIntAt. */
    int reserveInt() {
      room(4);
      length += 4;
      return length - 4;
    }
  }

  /**
   * A cursor over one JSON text (a line of a chunk). Only what JSON.stringify writes is
   * accepted as a number; strings are turned into the UTF-8 that Node's Buffer.from makes
   * of them (a lone surrogate escape becomes U+FFFD), and raw bytes must be valid UTF-8.
   */
  private static final class Json {
    byte[] b;
    int pos;
    int end;

    void reset(byte[] bytes, int from, int to) {
      b = bytes;
      pos = from;
      end = to;
    }

    int peek() {
      while (pos < end && (b[pos] == ' ' || b[pos] == '\t' || b[pos] == '\r')) pos++;
      return pos < end ? b[pos] & 0xff : -1;
    }

    void expect(char c) throws Unparsed {
      if (peek() != c) throw new Unparsed("expected '" + c + "' at " + where());
      pos++;
    }

    void end() throws Unparsed {
      if (peek() != -1) throw new Unparsed("unexpected text after a row at " + where());
    }

    String where() {
      int from = Math.max(0, pos - 20);
      return "\"" + new String(b, from, Math.min(end, pos + 20) - from, StandardCharsets.UTF_8) + "\"";
    }

    boolean nullLiteral() throws Unparsed {
      if (peek() != 'n') return false;
      literal("null");
      return true;
    }

    void literal(String word) throws Unparsed {
      if (end - pos < word.length()) throw new Unparsed("expected " + word + " at " + where());
      for (int i = 0; i < word.length(); i++) {
        if (b[pos + i] != word.charAt(i)) throw new Unparsed("expected " + word + " at " + where());
      }
      pos += word.length();
    }

    /** The text of a JSON number token. */
    String number() throws Unparsed {
      int c = peek();
      int from = pos;
      if (c == '-') pos++;
      int digits = pos;
      while (pos < end && b[pos] >= '0' && b[pos] <= '9') pos++;
      if (pos == digits) throw new Unparsed("expected a number at " + where());
      if (pos < end && b[pos] == '.') {
        pos++;
        int fraction = pos;
        while (pos < end && b[pos] >= '0' && b[pos] <= '9') pos++;
        if (pos == fraction) throw new Unparsed("bad number at " + where());
      }
      if (pos < end && (b[pos] == 'e' || b[pos] == 'E')) {
        pos++;
        if (pos < end && (b[pos] == '+' || b[pos] == '-')) pos++;
        int exponent = pos;
        while (pos < end && b[pos] >= '0' && b[pos] <= '9') pos++;
        if (pos == exponent) throw new Unparsed("bad number at " + where());
      }
      return new String(b, from, pos - from, StandardCharsets.ISO_8859_1);
    }

    /** A JSON integer token (no fraction or exponent) of at most 16 digits, as JSON.stringify writes safe integers. */
    long integer() throws Unparsed {
      int c = peek();
      int from = pos;
      boolean negative = c == '-';
      if (negative) pos++;
      int digits = pos;
      long value = 0;
      while (pos < end && b[pos] >= '0' && b[pos] <= '9' && pos - digits < 16) value = value * 10 + (b[pos++] - '0');
      int n = pos - digits;
      if (n == 0 || (n > 1 && b[digits] == '0') || (pos < end && (b[pos] == '.' || b[pos] == 'e' || b[pos] == 'E' || (b[pos] >= '0' && b[pos] <= '9')))) {
        pos = from;
        throw new Unparsed("expected an integer at " + where());
      }
      return negative ? -value : value;
    }

    /**
     * A string's content as UTF-8 into `out`. Its UTF-8 is never longer than its JSON text, so
     * room is made once and bytes are copied one by one: strings of JSON documents hold an
     * escaped quote every few bytes.
     */
    void string(Out out) throws Unparsed {
      if (peek() != '"') throw new Unparsed("expected a string at " + where());
      pos++;
      out.room(end - pos);
      byte[] src = b;
      byte[] dst = out.bytes;
      int o = out.length;
      int p = pos;
      int limit = end;
      while (true) {
        if (p >= limit) throw new Unparsed("unterminated string");
        byte c = src[p];
        if (c >= 0x20 && c != '"' && c != '\\') {
          dst[o++] = c;
          p++;
        } else if (c == '"') {
          p++;
          break;
        } else if (c == '\\') {
          if (p + 1 >= limit) throw new Unparsed("unterminated string");
          byte e = src[p + 1];
          p += 2;
          switch (e) {
            case '"': dst[o++] = '"'; break;
            case '\\': dst[o++] = '\\'; break;
            case '/': dst[o++] = '/'; break;
            case 'b': dst[o++] = '\b'; break;
            case 'f': dst[o++] = '\f'; break;
            case 'n': dst[o++] = '\n'; break;
            case 'r': dst[o++] = '\r'; break;
            case 't': dst[o++] = '\t'; break;
            case 'u':
              pos = p;
              o = unicodeEscape(dst, o);
              p = pos;
              break;
            default: throw new Unparsed("bad escape in a string");
          }
        } else if (c < 0) {
          pos = p;
          int n = utf8Length(c & 0xff);
          System.arraycopy(src, p, dst, o, n);
          o += n;
          p += n;
        } else {
          throw new Unparsed("control character in a string");
        }
      }
      pos = p;
      out.length = o;
    }

    /** The length of the valid UTF-8 sequence starting with lead byte `c` at pos. */
    private int utf8Length(int c) throws Unparsed {
      int n;
      int min;
      if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        min = 0x80;
      } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        min = 0x800;
      } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        min = 0x10000;
      } else {
        throw new Unparsed("invalid UTF-8");
      }
      if (pos + n > end) throw new Unparsed("invalid UTF-8");
      int cp = c & (0xff >> (n + 1));
      for (int i = 1; i < n; i++) {
        int cont = b[pos + i] & 0xff;
        if ((cont & 0xc0) != 0x80) throw new Unparsed("invalid UTF-8");
        cp = (cp << 6) | (cont & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Unparsed("invalid UTF-8");
      return n;
    }

    /** At the four hex digits of a unicode escape: the code point as UTF-8 into dst at o (a surrogate pair as one); returns the new o. */
    private int unicodeEscape(byte[] dst, int o) throws Unparsed {
      int cp = hex4();
      if (cp >= 0xd800 && cp <= 0xdbff && end - pos >= 6 && b[pos] == '\\' && b[pos + 1] == 'u') {
        int save = pos;
        pos += 2;
        int low = hex4();
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else {
          pos = save;
        }
      }
      // a lone surrogate: Node writes U+FFFD for it
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      if (cp < 0x80) {
        dst[o++] = (byte) cp;
      } else if (cp < 0x800) {
        dst[o++] = (byte) (0xc0 | (cp >> 6));
        dst[o++] = (byte) (0x80 | (cp & 0x3f));
      } else if (cp < 0x10000) {
        dst[o++] = (byte) (0xe0 | (cp >> 12));
        dst[o++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
        dst[o++] = (byte) (0x80 | (cp & 0x3f));
      } else {
        dst[o++] = (byte) (0xf0 | (cp >> 18));
        dst[o++] = (byte) (0x80 | ((cp >> 12) & 0x3f));
        dst[o++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
        dst[o++] = (byte) (0x80 | (cp & 0x3f));
      }
      return o;
    }

    private int hex4() throws Unparsed {
      if (end - pos < 4) throw new Unparsed("bad \\u escape");
      int v = 0;
      for (int i = 0; i < 4; i++) {
        int d = Character.digit(b[pos++], 16);
        if (d < 0) throw new Unparsed("bad \\u escape");
        v = (v << 4) | d;
      }
      return v;
    }

    /** A short string (a number, uuid, date...) as Java text. */
    String text(Out scratch) throws Unparsed {
      int mark = scratch.length;
      string(scratch);
      String s = new String(scratch.bytes, mark, scratch.length - mark, StandardCharsets.UTF_8);
      scratch.length = mark;
      return s;
    }

    /** Skips any JSON value. */
    void skip() throws Unparsed {
      int c = peek();
      if (c == '"') {
        Out sink = new Out(16);
        string(sink);
      } else if (c == '[' || c == '{') {
        pos++;
        int close = c == '[' ? ']' : '}';
        if (peek() == close) {
          pos++;
          return;
        }
        while (true) {
          if (close == '}') {
            skip();
            expect(':');
          }
          skip();
          if (peek() == ',') {
            pos++;
            continue;
          }
          expect((char) close);
          return;
        }
      } else if (c == 't') {
        literal("true");
      } else if (c == 'f') {
        literal("false");
      } else if (c == 'n') {
        literal("null");
      } else {
        number();
      }
    }
  }

  /** Reads a column type as the caller writes it (see sstable-import.ts, writeType). */
  static Codec readType(DataInputStream in) throws IOException {
    int kind = in.readUnsignedByte();
    switch (kind) {
      case 'N':
        return Codec.nativeCodec(readString(in));
      case 'L':
      case 'S':
        return new ListCodec(readType(in));
      case 'M':
        return new MapCodec(readType(in), readType(in));
      case 'T': {
        Codec[] elements = new Codec[in.readInt()];
        for (int i = 0; i < elements.length; i++) elements[i] = readType(in);
        return new TupleCodec(elements);
      }
      case 'U': {
        int n = in.readInt();
        String[] names = new String[n];
        Codec[] fields = new Codec[n];
        for (int i = 0; i < n; i++) {
          names[i] = readString(in);
          fields[i] = readType(in);
        }
        return new UdtCodec(names, fields);
      }
      case 'V': {
        int dimensions = in.readInt();
        return new VectorCodec(readType(in), dimensions);
      }
      default:
        throw new IOException("unknown type kind " + kind);
    }
  }

  /**
   * JSON value (as value-codec.ts writes it) to the bytes the Node driver binds for it
   * (value-codec.ts fromJson, then the driver's Encoder), so a file loaded here gives the
   * same cells as rows encoded by the caller. What the driver would reject, or a form the
   * exporter never writes, is Unparsed: the caller then encodes the group itself.
   */
  abstract static class Codec {
    static final int PRESENT = 0;
    /** JSON null. */
    static final int NULL = 1;
    /** A value the driver encodes as null: an empty list or set. */
    static final int EMPTY = 2;

    static final Pattern INTEGER = Pattern.compile("-?[0-9]+");
    static final Pattern DECIMAL = Pattern.compile("-?[0-9]+(\\.[0-9]*)?");
    /** A negative scale: unscaled value, then "E+" and the scale negated ("1E+30"). */
    static final Pattern DECIMAL_EXPONENT = Pattern.compile("(-?[0-9]+)E\\+([0-9]{1,10})");
    static final Pattern IPV4 = Pattern.compile("[0-9]{1,3}(\\.[0-9]{1,3}){3}");
    static final Pattern IPV6 = Pattern.compile("[0-9a-fA-F:]+");
    static final Pattern DATE = Pattern.compile("(-?)([0-9]{4,})-([0-9]{2})-([0-9]{2})");

    abstract int write(Json in, Out out) throws Unparsed;

    /** Bytes of a fixed size in a vector (the driver's serializationSizeIfFixed), else -1. */
    int fixedSize() {
      return -1;
    }

    static Codec nativeCodec(String name) throws IOException {
      switch (name) {
        case "text":
        case "varchar":
          return new TextCodec(false);
        case "ascii":
          return new TextCodec(true);
        case "boolean":
          return new Scalar(1) {
            int value(Json in, Out out) throws Unparsed {
              if (in.peek() == 't') {
                in.literal("true");
                out.put(1);
              } else {
                in.literal("false");
                out.put(0);
              }
              return PRESENT;
            }
          };
        case "int":
          return new Scalar(4) {
            int value(Json in, Out out) throws Unparsed {
              out.putInt((int) ranged(in.integer(), Integer.MIN_VALUE, Integer.MAX_VALUE));
              return PRESENT;
            }
          };
        case "smallint":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              out.putShort((int) ranged(in.integer(), Short.MIN_VALUE, Short.MAX_VALUE));
              return PRESENT;
            }
          };
        case "tinyint":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              out.put((int) ranged(in.integer(), Byte.MIN_VALUE, Byte.MAX_VALUE));
              return PRESENT;
            }
          };
        case "float":
          return new Scalar(4) {
            int value(Json in, Out out) throws Unparsed {
              out.putInt(Float.floatToRawIntBits((float) floating(in, out)));
              return PRESENT;
            }
          };
        case "double":
          return new Scalar(8) {
            int value(Json in, Out out) throws Unparsed {
              out.putLong(Double.doubleToRawLongBits(floating(in, out)));
              return PRESENT;
            }
          };
        case "bigint":
          return new Scalar(8) {
            int value(Json in, Out out) throws Unparsed {
              out.putLong(parseLong(in.text(out)));
              return PRESENT;
            }
          };
        case "timestamp":
          return new Scalar(8) {
            int value(Json in, Out out) throws Unparsed {
              // new Date(ms): within ±8.64e15, else the driver rejects it
              out.putLong(ranged(in.integer(), -8_640_000_000_000_000L, 8_640_000_000_000_000L));
              return PRESENT;
            }
          };
        case "time":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              out.putLong(ranged(parseLong(in.text(out)), 0, 86_399_999_999_999L));
              return PRESENT;
            }
          };
        case "uuid":
        case "timeuuid":
          return new Scalar(16) {
            int value(Json in, Out out) throws Unparsed {
              // 8-4-4-4-12 hex digits, as Uuid.toString writes it
              int mark = out.length;
              in.string(out);
              int length = out.length - mark;
              byte[] text = out.bytes;
              out.length = mark;
              if (length != 36) throw new Unparsed("bad uuid");
              for (int i = 0; i < 36; ) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                  if (text[mark + i] != '-') throw new Unparsed("bad uuid");
                  i++;
                  continue;
                }
                int high = Character.digit(text[mark + i], 16);
                int low = Character.digit(text[mark + i + 1], 16);
                if (high < 0 || low < 0) throw new Unparsed("bad uuid");
                out.bytes[out.length++] = (byte) ((high << 4) | low);
                i += 2;
              }
              return PRESENT;
            }
          };
        case "varint":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              String s = in.text(out);
              if (!INTEGER.matcher(s).matches()) throw new Unparsed("bad varint " + s);
              byte[] bytes = new BigInteger(s).toByteArray();
              out.put(bytes, 0, bytes.length);
              return PRESENT;
            }
          };
        case "decimal":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              // plain: the digits after '.' are the scale; "<unscaled>E+<n>": the scale is -n
              String s = in.text(out);
              Matcher exponent = DECIMAL_EXPONENT.matcher(s);
              int scale;
              byte[] unscaled;
              if (exponent.matches()) {
                long negated = Long.parseLong(exponent.group(2));
                if (negated > 0x80000000L) throw new Unparsed("decimal exponent out of range " + s);
                scale = (int) -negated;
                unscaled = new BigInteger(exponent.group(1)).toByteArray();
              } else {
                if (!DECIMAL.matcher(s).matches()) throw new Unparsed("bad decimal " + s);
                int dot = s.indexOf('.');
                scale = dot < 0 ? 0 : s.length() - 1 - dot;
                unscaled = new BigInteger(dot < 0 ? s : s.substring(0, dot) + s.substring(dot + 1)).toByteArray();
              }
              out.putInt(scale);
              out.put(unscaled, 0, unscaled.length);
              return PRESENT;
            }
          };
        case "blob":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              byte[] bytes;
              try {
                bytes = Base64.getDecoder().decode(in.text(out));
              } catch (IllegalArgumentException e) {
                throw new Unparsed("bad base64");
              }
              out.put(bytes, 0, bytes.length);
              return PRESENT;
            }
          };
        case "inet":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              byte[] bytes = inet(in.text(out));
              out.put(bytes, 0, bytes.length);
              return PRESENT;
            }
          };
        case "date":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              out.putInt((int) (date(in.text(out)) + (1L << 31)));
              return PRESENT;
            }
          };
        case "duration":
          return new Scalar(-1) {
            int value(Json in, Out out) throws Unparsed {
              ByteBuffer bytes = duration(in.text(out));
              byte[] copy = new byte[bytes.remaining()];
              bytes.duplicate().get(copy);
              out.put(copy, 0, copy.length);
              return PRESENT;
            }
          };
        default:
          // counter (never written as SSTables) or a type this helper does not know
          throw new IOException("no codec for " + name);
      }
    }

    static long ranged(long v, long min, long max) throws Unparsed {
      if (v < min || v > max) throw new Unparsed("value out of range: " + v);
      return v;
    }

    static long parseLong(String s) throws Unparsed {
      int digits = s.startsWith("-") ? 1 : 0;
      if (s.length() == digits || s.length() - digits > 19) throw new Unparsed("bad integer " + s);
      for (int i = digits; i < s.length(); i++) if (s.charAt(i) < '0' || s.charAt(i) > '9') throw new Unparsed("bad integer " + s);
      try {
        return Long.parseLong(s);
      } catch (NumberFormatException e) {
        throw new Unparsed("bad integer " + s);
      }
    }

    /** A float or double: a number, or the strings value-codec.ts writes for -0 and non-finite values. */
    static double floating(Json in, Out scratch) throws Unparsed {
      if (in.peek() != '"') return Double.parseDouble(in.number());
      String s = in.text(scratch);
      switch (s) {
        case "-0": return -0.0;
        case "NaN": return Double.NaN;
        case "Infinity": return Double.POSITIVE_INFINITY;
        case "-Infinity": return Double.NEGATIVE_INFINITY;
        default: throw new Unparsed("bad floating-point value " + s);
      }
    }

    /** InetAddress.fromString for what its toString writes: dotted IPv4, or IPv6 groups with at most one "::". */
    static byte[] inet(String s) throws Unparsed {
      if (IPV4.matcher(s).matches()) {
        String[] parts = s.split("\\.");
        byte[] bytes = new byte[4];
        for (int i = 0; i < 4; i++) bytes[i] = (byte) (int) ranged(Integer.parseInt(parts[i]), 0, 255);
        return bytes;
      }
      if (!IPV6.matcher(s).matches() || s.indexOf("::") != s.lastIndexOf("::")) throw new Unparsed("bad inet " + s);
      String[] halves = s.split("::", -1);
      String[] head = halves[0].isEmpty() ? new String[0] : halves[0].split(":", -1);
      String[] tail = halves.length < 2 || halves[1].isEmpty() ? new String[0] : halves[1].split(":", -1);
      if (halves.length == 1 ? head.length != 8 : head.length + tail.length > 7) throw new Unparsed("bad inet " + s);
      byte[] bytes = new byte[16];
      for (int i = 0; i < head.length; i++) group(bytes, i, head[i], s);
      for (int i = 0; i < tail.length; i++) group(bytes, 8 - tail.length + i, tail[i], s);
      return bytes;
    }

    private static void group(byte[] bytes, int index, String hex, String s) throws Unparsed {
      if (hex.isEmpty() || hex.length() > 4) throw new Unparsed("bad inet " + s);
      int v = Integer.parseInt(hex, 16);
      bytes[index * 2] = (byte) (v >> 8);
      bytes[index * 2 + 1] = (byte) v;
    }

    /** LocalDate.fromString for what its toString writes: [-]yyyy-mm-dd, or days since the epoch. */
    static long date(String s) throws Unparsed {
      if (INTEGER.matcher(s).matches()) return ranged(parseLong(s), Integer.MIN_VALUE, Integer.MAX_VALUE);
      java.util.regex.Matcher m = DATE.matcher(s);
      if (!m.matches()) throw new Unparsed("bad date " + s);
      try {
        int year = Integer.parseInt(m.group(2)) * (m.group(1).isEmpty() ? 1 : -1);
        long days = java.time.LocalDate.of(year, Integer.parseInt(m.group(3)), Integer.parseInt(m.group(4))).toEpochDay();
        return ranged(days, Integer.MIN_VALUE, Integer.MAX_VALUE);
      } catch (RuntimeException e) {
        throw new Unparsed("bad date " + s);
      }
    }

    /** Duration.fromString for what its toString writes: [-] then y mo d h m s ms us ns, each at most once, in order. */
    static ByteBuffer duration(String s) throws Unparsed {
      boolean negative = s.startsWith("-");
      String[] units = {"y", "mo", "d", "h", "m", "s", "ms", "us", "ns"};
      long[] nanosPer = {0, 0, 0, 3_600_000_000_000L, 60_000_000_000L, 1_000_000_000L, 1_000_000L, 1_000L, 1L};
      long months = 0;
      long days = 0;
      long nanos = 0;
      int pos = negative ? 1 : 0;
      int lastUnit = -1;
      while (pos < s.length()) {
        int digits = pos;
        while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
        if (pos == digits || pos - digits > 19) throw new Unparsed("bad duration " + s);
        long n = parseLong(s.substring(digits, pos));
        int unit = -1;
        for (int u = lastUnit + 1; u < units.length; u++) {
          // "m" is minutes only when not the start of "mo" or "ms"
          if (s.startsWith(units[u], pos) && !(units[u].equals("m") && (s.startsWith("mo", pos) || s.startsWith("ms", pos)))) {
            unit = u;
            break;
          }
        }
        if (unit < 0) throw new Unparsed("bad duration " + s);
        pos += units[unit].length();
        lastUnit = unit;
        try {
          if (unit == 0) months = Math.addExact(months, Math.multiplyExact(n, 12));
          else if (unit == 1) months = Math.addExact(months, n);
          else if (unit == 2) days = Math.addExact(days, n);
          else nanos = Math.addExact(nanos, Math.multiplyExact(n, nanosPer[unit]));
        } catch (ArithmeticException e) {
          throw new Unparsed("bad duration " + s);
        }
      }
      if (months > Integer.MAX_VALUE || days > Integer.MAX_VALUE) throw new Unparsed("bad duration " + s);
      if (negative) {
        months = -months;
        days = -days;
        nanos = -nanos;
      }
      return DurationType.instance.decompose(org.apache.cassandra.cql3.Duration.newInstance((int) months, (int) days, nanos));
    }
  }

  /** A native value: JSON null, or one value written by `value`. */
  abstract static class Scalar extends Codec {
    private final int fixedSize;

    Scalar(int fixedSize) {
      this.fixedSize = fixedSize;
    }

    int fixedSize() {
      return fixedSize;
    }

    int write(Json in, Out out) throws Unparsed {
      if (in.nullLiteral()) return NULL;
      return value(in, out);
    }

    abstract int value(Json in, Out out) throws Unparsed;
  }

  static final class TextCodec extends Codec {
    private final boolean ascii;

    TextCodec(boolean ascii) {
      this.ascii = ascii;
    }

    int write(Json in, Out out) throws Unparsed {
      if (in.nullLiteral()) return NULL;
      int mark = out.length;
      in.string(out);
      if (ascii) {
        // Node's 'ascii' encoding would not keep anything else as it is
        for (int i = mark; i < out.length; i++) if (out.bytes[i] < 0) throw new Unparsed("non-ASCII text in an ascii column");
      }
      return PRESENT;
    }
  }

  /** list and set: a JSON array; the driver binds an empty one as null. */
  static final class ListCodec extends Codec {
    private final Codec element;

    ListCodec(Codec element) {
      this.element = element;
    }

    int write(Json in, Out out) throws Unparsed {
      if (in.nullLiteral()) return NULL;
      in.expect('[');
      if (in.peek() == ']') {
        in.pos++;
        return EMPTY;
      }
      int countAt = out.reserveInt();
      int count = 0;
      do {
        if (count > 0) in.pos++;
        int lengthAt = out.reserveInt();
        if (element.write(in, out) != PRESENT) throw new Unparsed("a collection holds null or an empty collection");
        out.putIntAt(lengthAt, out.length - lengthAt - 4);
        count++;
      } while (in.peek() == ',');
      in.expect(']');
      out.putIntAt(countAt, count);
      return PRESENT;
    }
  }

  /** map: a JSON array of [key, value] pairs; an empty map is bound as a count of 0. */
  static final class MapCodec extends Codec {
    private final Codec key;
    private final Codec value;

    MapCodec(Codec key, Codec value) {
      this.key = key;
      this.value = value;
    }

    int write(Json in, Out out) throws Unparsed {
      if (in.nullLiteral()) return NULL;
      in.expect('[');
      int countAt = out.reserveInt();
      int count = 0;
      if (in.peek() == ']') {
        in.pos++;
        out.putIntAt(countAt, 0);
        return PRESENT;
      }
      do {
        if (count > 0) in.pos++;
        in.expect('[');
        int keyAt = out.reserveInt();
        if (key.write(in, out) != PRESENT) throw new Unparsed("a map key is null or an empty collection");
        out.putIntAt(keyAt, out.length - keyAt - 4);
        in.expect(',');
        int valueAt = out.reserveInt();
        int written = value.write(in, out);
        if (written == NULL) throw new Unparsed("a map value is null");
        // the driver writes an empty list or set value as zero bytes
        out.putIntAt(valueAt, written == EMPTY ? 0 : out.length - valueAt - 4);
        while (in.peek() == ',') {
          in.pos++;
          in.skip();
        }
        in.expect(']');
        count++;
      } while (in.peek() == ',');
      in.expect(']');
      out.putIntAt(countAt, count);
      return PRESENT;
    }
  }

  /** tuple: a JSON array, one value per element type (missing ones null, extra ones ignored). */
  static final class TupleCodec extends Codec {
    private final Codec[] elements;

    TupleCodec(Codec[] elements) {
      this.elements = elements;
    }

    int write(Json in, Out out) throws Unparsed {
      if (in.nullLiteral()) return NULL;
      in.expect('[');
      int i = 0;
      if (in.peek() != ']') {
        do {
          if (i > 0) in.pos++;
          if (i < elements.length) field(elements[i], in, out);
          else in.skip();
          i++;
        } while (in.peek() == ',');
      }
      in.expect(']');
      for (; i < elements.length; i++) out.putInt(-1);
      return PRESENT;
    }
  }

  /** A UDT field or tuple element: int length then bytes, -1 for null or an empty list or set. */
  static void field(Codec codec, Json in, Out out) throws Unparsed {
    int lengthAt = out.reserveInt();
    if (codec.write(in, out) == Codec.PRESENT) {
      out.putIntAt(lengthAt, out.length - lengthAt - 4);
    } else {
      out.length = lengthAt + 4;
      out.putIntAt(lengthAt, -1);
    }
  }

  /** UDT: a JSON object by field name; fields are bound in the type's order, missing ones null. */
  static final class UdtCodec extends Codec {
    private final Map<String, Integer> indexes = new HashMap<>();
    private final Codec[] fields;

    UdtCodec(String[] names, Codec[] fields) {
      this.fields = fields;
      for (int i = 0; i < names.length; i++) indexes.put(names[i], i);
    }

    int write(Json in, Out out) throws Unparsed {
      if (in.nullLiteral()) return NULL;
      in.expect('{');
      byte[][] encoded = new byte[fields.length][];
      Out scratch = new Out(64);
      if (in.peek() != '}') {
        do {
          if (in.peek() == ',') in.pos++;
          Integer index = indexes.get(in.text(scratch));
          in.expect(':');
          if (index == null) {
            in.skip();
            continue;
          }
          scratch.length = 0;
          field(fields[index], in, scratch);
          encoded[index] = Arrays.copyOf(scratch.bytes, scratch.length);
        } while (in.peek() == ',');
      }
      in.expect('}');
      for (int i = 0; i < fields.length; i++) {
        if (encoded[i] == null) out.putInt(-1);
        else out.put(encoded[i], 0, encoded[i].length);
      }
      return PRESENT;
    }
  }

  /** vector: exactly `dimensions` values; variable-size ones each with an unsigned vint length. */
  static final class VectorCodec extends Codec {
    private final Codec element;
    private final int dimensions;
    private final int elementSize;

    VectorCodec(Codec element, int dimensions) {
      this.element = element;
      this.dimensions = dimensions;
      // the driver's serializationSizeIfFixed: only these have no length in front
      this.elementSize = element.fixedSize();
    }

    int fixedSize() {
      return elementSize < 0 ? -1 : elementSize * dimensions;
    }

    int write(Json in, Out out) throws Unparsed {
      if (in.nullLiteral()) return NULL;
      in.expect('[');
      int count = 0;
      Out scratch = elementSize < 0 ? new Out(32) : null;
      if (in.peek() != ']') {
        do {
          if (count > 0) in.pos++;
          if (scratch == null) {
            if (element.write(in, out) != PRESENT) throw new Unparsed("a vector holds null");
          } else {
            scratch.length = 0;
            if (element.write(in, scratch) != PRESENT) throw new Unparsed("a vector holds null");
            ByteBuffer size = ByteBuffer.allocate(VIntCoding.computeUnsignedVIntSize(scratch.length));
            VIntCoding.writeUnsignedVInt((long) scratch.length, size);
            out.put(size.array(), 0, size.capacity());
            out.put(scratch.bytes, 0, scratch.length);
          }
          count++;
        } while (in.peek() == ',');
      }
      in.expect(']');
      if (count != dimensions || count == 0) throw new Unparsed("a vector of " + count + " values, expected " + dimensions);
      return PRESENT;
    }
  }
}
