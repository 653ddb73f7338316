import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCassandraNode, stopCassandraNode } from "@devenv/cassandra-node";
import { freePort } from "../harness/ports.ts";

export interface BenchCassandra {
  contactPoint: string;
  localDataCenter: string;
  /** Pid of the node's JVM when this run started it. */
  pid: number | undefined;
  releaseVersion: string | undefined;
  startedHere: boolean;
  /** Stops and deletes the node if this run started it. */
  stop(): Promise<void>;
}

/** A dedicated node for the benchmark, or the one named by --contact-points. */
export async function benchCassandra(options: {
  contactPoint: string | undefined;
  localDataCenter: string;
  heap: string;
  cacheDir: string;
  log: (message: string) => void;
}): Promise<BenchCassandra> {
  if (options.contactPoint) {
    return {
      contactPoint: options.contactPoint,
      localDataCenter: options.localDataCenter,
      pid: undefined,
      releaseVersion: undefined,
      startedHere: false,
      stop: async () => {},
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), "devenv-bench-cassandra-"));
  try {
    const node = await startCassandraNode(
      { name: "bench", dataDir, nativePort: await freePort(), heap: options.heap, cacheDir: options.cacheDir },
      { deadlineMs: 240_000, onProgress: (message) => options.log(`cassandra: ${message}`) },
    );
    return {
      contactPoint: node.contactPoint,
      localDataCenter: node.localDataCenter,
      pid: node.pid,
      releaseVersion: node.releaseVersion,
      startedHere: true,
      stop: async () => {
        await stopCassandraNode(dataDir, { deadlineMs: 60_000 });
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
