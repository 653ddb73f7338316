import cassandra from "cassandra-driver";

/** Connects with the driver and asks the node its version: the proof that CQL works. */
export async function queryReleaseVersion(contactPoint: string, localDataCenter: string, timeoutMs = 5_000): Promise<string> {
  const client = new cassandra.Client({
    contactPoints: [contactPoint],
    localDataCenter,
    socketOptions: { connectTimeout: timeoutMs, readTimeout: timeoutMs },
    // one connection and no schema download: this is a probe, not a session
    isMetadataSyncEnabled: false,
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 }, warmup: false },
  });
  try {
    await client.connect();
    const result = await client.execute("SELECT release_version FROM system.local");
    const version: unknown = result.first()?.get("release_version");
    if (typeof version !== "string") throw new Error("system.local has no release_version");
    return version;
  } finally {
    await client.shutdown().catch(() => {});
  }
}
