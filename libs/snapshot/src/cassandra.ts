import cassandra from "cassandra-driver";
import { SnapshotError } from "./errors.ts";

export interface CassandraTarget {
  /** host:port pairs; the port defaults to 9042. */
  contactPoints: readonly string[];
  localDataCenter?: string;
  /** In-flight requests per connection the loader may use; sized for bulk work. */
  connectionsPerHost?: number;
}

/** Parses "host:port,host2" as given on a command line. */
export function parseContactPoints(text: string): string[] {
  const points = text.split(",").map((p) => p.trim()).filter(Boolean);
  if (points.length === 0) throw new SnapshotError("invalid-input", "no contact points given (expected HOST:PORT)");
  for (const point of points) {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(point);
    const port = match?.[2] === undefined ? 9042 : Number(match[2]);
    if (!match || port < 1 || port > 65535) {
      throw new SnapshotError("invalid-input", `invalid contact point "${point}" (expected HOST:PORT)`);
    }
  }
  return points;
}

/** How values map to JS: ES2015 Map and Set, undefined as unset. Bound values are encoded the same way everywhere. */
export const clientEncoding = { map: Map, set: Set, useUndefinedAsUnset: true };

/**
 * Connects with the settings every snapshot operation relies on: ES2015 Map
 * and Set for collections (non-string map keys round-trip), undefined as unset
 * (so absent cells write no tombstones), and several connections for bulk load.
 */
export async function connectCassandra(target: CassandraTarget): Promise<cassandra.Client> {
  const client = new cassandra.Client({
    contactPoints: [...target.contactPoints],
    localDataCenter: target.localDataCenter ?? "datacenter1",
    encoding: clientEncoding,
    pooling: {
      coreConnectionsPerHost: { [cassandra.types.distance.local]: target.connectionsPerHost ?? 2 },
      maxRequestsPerConnection: 2048,
    },
    socketOptions: { readTimeout: 60_000, connectTimeout: 10_000 },
    queryOptions: { consistency: cassandra.types.consistencies.localOne },
  });
  try {
    await client.connect();
  } catch (error) {
    await client.shutdown().catch(() => {});
    throw new SnapshotError("unavailable", `cannot reach Cassandra at ${target.contactPoints.join(",")}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return client;
}
