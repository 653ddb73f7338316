// The naive loader the benchmark measures as a floor: what a script that awaits one
// prepared INSERT at a time manages. Run as its own process so its memory is its own:
//   node --conditions=devenv-source test/bench/naive-insert.ts CONTACT_POINT DATACENTER KEYSPACE SHAPE ROWS SEED
import cassandra from "cassandra-driver";
import { shapeNames, shapes, type ShapeName } from "./data-shapes.ts";

const [contactPoint, localDataCenter, keyspace, shapeName, rowsText, seedText] = process.argv.slice(2);
if (!contactPoint || !localDataCenter || !keyspace || !shapeNames.includes(shapeName as ShapeName) || !rowsText || !seedText) {
  process.stderr.write("usage: naive-insert.ts CONTACT_POINT DATACENTER KEYSPACE small|wide ROWS SEED\n");
  process.exit(2);
}
const shape = shapes[shapeName as ShapeName];
const rows = Number(rowsText);
const seed = Number(seedText);

const client = new cassandra.Client({ contactPoints: [contactPoint], localDataCenter });
try {
  await client.connect();
  const names = shape.columns.map((c) => c.name);
  const insert = `INSERT INTO ${keyspace}.${shape.table} (${names.join(", ")}) VALUES (${names.map(() => "?").join(", ")})`;
  const started = performance.now();
  for (let index = 0; index < rows; index++) {
    await client.execute(insert, shape.rowAt(seed, index), { prepare: true });
  }
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(`${JSON.stringify({ rows, seconds })}\n`);
} finally {
  await client.shutdown();
}
