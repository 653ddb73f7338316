import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCassandraNode, stopCassandraNode } from "@devenv/cassandra-node";
import type { RunningService } from "./service.ts";
import { cacheDir } from "./service.ts";
import { freePort } from "./ports.ts";

export interface CassandraInfo {
  contactPoint: string;
  localDataCenter: string;
}

/** Reuses DEVENV_TEST_CASSANDRA (host:port) when set; otherwise starts a throwaway node. */
export async function startCassandraService(env: NodeJS.ProcessEnv = process.env): Promise<RunningService<CassandraInfo>> {
  const reuse = env.DEVENV_TEST_CASSANDRA;
  if (reuse) {
    return {
      info: { contactPoint: reuse, localDataCenter: env.DEVENV_TEST_CASSANDRA_DC ?? "datacenter1" },
      startedHere: false,
      stop: async () => {},
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), "devenv-test-cassandra-"));
  const node = await startCassandraNode(
    { name: "test", dataDir, nativePort: await freePort(), cacheDir: cacheDir(env), heap: env.DEVENV_TEST_CASSANDRA_HEAP ?? "1G" },
    { onProgress: (message: string) => process.stderr.write(`[services] cassandra: ${message}\n`) },
  );
  return {
    info: { contactPoint: node.contactPoint, localDataCenter: node.localDataCenter },
    startedHere: true,
    stop: async () => {
      await stopCassandraNode(dataDir, { deadlineMs: 30_000 });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
