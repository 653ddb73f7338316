import { statfs } from "node:fs/promises";
import { loadavg } from "node:os";
import cassandra from "cassandra-driver";
import type { AgentHealth, LastRestore } from "@devenv/protocol";

export interface CassandraStatus {
  reachable: boolean;
  version?: string;
}

/** Asks the local Cassandra whether it answers, and its release. */
export interface CassandraProbe {
  check(): Promise<CassandraStatus>;
  close(): Promise<void>;
}

/**
 * A CQL probe with one connection: `SELECT release_version FROM system.local` with a
 * short timeout. The driver is created lazily and again after a failed connect, so a
 * Cassandra that starts after the agent is found.
 */
export class CqlCassandraProbe implements CassandraProbe {
  readonly #contactPoint: string;
  readonly #localDataCenter: string;
  readonly #timeoutMs: number;
  #client: cassandra.Client | undefined;

  constructor(options: { contactPoint: string; localDataCenter?: string; timeoutMs?: number }) {
    this.#contactPoint = options.contactPoint;
    this.#localDataCenter = options.localDataCenter ?? "datacenter1";
    this.#timeoutMs = options.timeoutMs ?? 3_000;
  }

  async check(): Promise<CassandraStatus> {
    try {
      this.#client ??= await this.#connect();
      const result = await this.#client.execute("SELECT release_version FROM system.local", [], { readTimeout: this.#timeoutMs });
      const version = result.first()?.get("release_version") as string | undefined;
      return { reachable: true, ...(version ? { version } : {}) };
    } catch {
      return { reachable: false };
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.shutdown().catch(() => {});
  }

  async #connect(): Promise<cassandra.Client> {
    const client = new cassandra.Client({
      contactPoints: [this.#contactPoint],
      localDataCenter: this.#localDataCenter,
      pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } },
      socketOptions: { connectTimeout: this.#timeoutMs, readTimeout: this.#timeoutMs },
    });
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.shutdown().catch(() => {});
      throw error;
    }
  }
}

/** What the agent knows of its own restores, folded into each health report. */
export interface RestoreStatus {
  currentSnapshotId: string | undefined;
  lastRestore: LastRestore | undefined;
}

/** Collects one health report: Cassandra, the data volume's disk, load, restore state. */
export async function collectHealth(probe: CassandraProbe, dataVolume: string, restore: RestoreStatus): Promise<AgentHealth> {
  const [status, disk] = await Promise.all([probe.check(), statfs(dataVolume).catch(() => undefined)]);
  return {
    cassandra: status,
    diskFreeBytes: disk ? disk.bavail * disk.bsize : 0,
    diskTotalBytes: disk ? disk.blocks * disk.bsize : 0,
    load1: Math.max(0, loadavg()[0] ?? 0),
    ...(restore.currentSnapshotId ? { currentSnapshotId: restore.currentSnapshotId } : {}),
    ...(restore.lastRestore ? { lastRestore: restore.lastRestore } : {}),
  };
}
