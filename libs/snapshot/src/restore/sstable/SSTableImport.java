import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import org.apache.cassandra.config.Config;
import org.apache.cassandra.config.DatabaseDescriptor;
import org.apache.cassandra.db.DecoratedKey;
import org.apache.cassandra.db.marshal.ByteBufferAccessor;
import org.apache.cassandra.db.marshal.CompositeType;
import org.apache.cassandra.dht.IPartitioner;
import org.apache.cassandra.io.sstable.CQLSSTableWriter;
import org.apache.cassandra.utils.FBUtilities;
import org.apache.cassandra.utils.StorageCompatibilityMode;

/**
 * Writes SSTables from rows whose values are already serialized the way CQL binds
 * them, then has the local node import them over JMX (what `nodetool import` does).
 * Run by libs/snapshot's restore, which speaks to it over stdin/stdout:
 *
 *   stdin  'G' group: dir, keyspace, table, create-table DDL, type DDLs, insert statements,
 *              partition key column count (they come first in every statement)
 *          'R' row: statement index (byte), value count (int), values (int length, bytes; -1 = unset)
 *          'C' commit the group: close its writers and import their SSTables
 *   stdout "@devenv ready", then one line per commit: "@devenv imported" or "@devenv failed <reason>"
 *          (the JVM itself may print other lines there)
 *
 * Strings are an int byte length then UTF-8. Every failure ends the process with
 * its reason on stdout, so the caller can fall back to CQL for that table.
 */
public final class SSTableImport {
  private static final String REPLY = "@devenv ";
  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
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
            group.add(statement, values);
            break;
          }
          case 'C':
            trace("rows sent");
            group.close();
            trace("sstables written");
            List<String> failed = importInto(jmx.join().getMBeanServerConnection(), group);
            trace("imported");
            out.println(REPLY + (failed.isEmpty() ? "imported" : "failed the node could not import " + failed));
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

  /**
   * The SSTables of one import. Each insert statement has its own sorted writer, which
   * holds one partition in memory at a time: rows arrive in token order (a chunk is a
   * token-range scan), and whenever they do not, the writer is closed and the next rows
   * start a new SSTable, so any order still yields valid SSTables.
   */
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
    CQLSSTableWriter[] writers;
    DecoratedKey[] lastKeys;
    long rows;
    long orderBreaks;

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
      group.writers = new CQLSSTableWriter[statementCount];
      group.lastKeys = new DecoratedKey[statementCount];
      return group;
    }

    void add(int statement, List<ByteBuffer> values) throws IOException {
      DecoratedKey key = partitioner.decorateKey(partitionKey(values));
      DecoratedKey last = lastKeys[statement];
      rows++;
      if (writers[statement] != null && last != null && key.compareTo(last) < 0) {
        // a few sorted runs (chunks out of order) are fine; rows in no order would make an SSTable per row
        if (++orderBreaks > 64 + rows / 1000) throw new IOException("rows are not in token order (" + orderBreaks + " breaks)");
        writers[statement].close();
        writers[statement] = null;
      }
      if (writers[statement] == null) writers[statement] = newWriter(statement);
      lastKeys[statement] = key;
      writers[statement].rawAddRow(values);
    }

    private ByteBuffer partitionKey(List<ByteBuffer> values) {
      if (partitionKeyColumns == 1) return values.get(0);
      ByteBuffer[] parts = values.subList(0, partitionKeyColumns).toArray(new ByteBuffer[0]);
      return CompositeType.build(ByteBufferAccessor.instance, parts);
    }

    private CQLSSTableWriter newWriter(int statement) {
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
      for (CQLSSTableWriter writer : writers) {
        if (writer != null) writer.close();
      }
    }
  }
}
