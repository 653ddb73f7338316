import { createInterface } from "node:readline";
import { createGunzip } from "node:zlib";
import type cassandra from "cassandra-driver";
import { ForwardDaemon } from "@devenv/forward";
import type { SnapshotManifest } from "@devenv/protocol";
import { connectCassandra, readManifest, type BlobStore } from "@devenv/snapshot";
import { tunnelUrl } from "./control-plane.ts";

type Row = Record<string, unknown>;

/** What a snapshot holds, read from its store: the manifest and, per table, its rows. */
export interface SnapshotContents {
  manifest: SnapshotManifest;
  rowCounts: Record<string, number>;
  rows(table: string): Promise<Row[]>;
}

export async function snapshotContents(store: BlobStore, snapshotId: string): Promise<SnapshotContents> {
  const manifest = await readManifest(store, snapshotId);
  return {
    manifest,
    rowCounts: Object.fromEntries(manifest.tables.map((t) => [t.name, t.rows])),
    async rows(name) {
      const table = manifest.tables.find((t) => t.name === name);
      if (!table) throw new Error(`snapshot ${snapshotId} has no table ${name}`);
      const rows: Row[] = [];
      for (const chunk of table.chunks) {
        const lines = createInterface({ input: (await store.get(`chunks/${chunk.sha256}`)).pipe(createGunzip()), crlfDelay: Infinity });
        for await (const line of lines) {
          if (line === "") continue;
          const values = JSON.parse(line) as unknown[];
          rows.push(Object.fromEntries(table.columns.map((c, i) => [c.name, values[i]])));
        }
      }
      return rows;
    },
  };
}

/** Row counts of every table of `snapshot` in `keyspace`, as a client sees them. */
export async function servedRowCounts(client: cassandra.Client, keyspace: string, snapshot: SnapshotContents): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of snapshot.manifest.tables) {
    counts[table.name] = Number((await client.execute(`SELECT count(*) FROM ${keyspace}.${table.name}`)).first().get(0));
  }
  return counts;
}

/** The organisations (id, name, kind), sorted, as the snapshot holds them and as a client sees them. */
export async function snapshotOrgs(snapshot: SnapshotContents): Promise<string[]> {
  return (await snapshot.rows("orgs")).map((r) => `${String(r.org_id)}|${String(r.name)}|${String(r.kind)}`).sort();
}

export async function servedOrgs(client: cassandra.Client, keyspace: string): Promise<string[]> {
  const result = await client.execute(`SELECT org_id, name, kind FROM ${keyspace}.orgs`);
  return result.rows.map((r) => `${String(r.get("org_id"))}|${String(r.get("name"))}|${String(r.get("kind"))}`).sort();
}

/** A developer's view: localhost through the forward and the control plane's tunnel to `target`. */
export class DeveloperView {
  readonly #forward: ForwardDaemon;
  #port = 0;

  constructor(server: { url: string }, token: string, target = "mine") {
    this.#forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: tunnelUrl(server, target), token } });
  }

  async listen(): Promise<number> {
    this.#port = (await this.#forward.listen()).port;
    return this.#port;
  }

  /** Runs `work` with a fresh CQL session on localhost (a killed agent ends the sessions before it). */
  async query<T>(work: (client: cassandra.Client) => Promise<T>): Promise<T> {
    const client = await connectCassandra({ contactPoints: [`127.0.0.1:${this.#port}`], localDataCenter: "datacenter1" });
    try {
      return await work(client);
    } finally {
      await client.shutdown();
    }
  }

  async close(): Promise<void> {
    await this.#forward.close();
  }
}
