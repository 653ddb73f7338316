import { join } from "node:path";
import { ChunkCache, readManifest, type BlobStore } from "@devenv/snapshot";
import { auditChunks, type AuditFinding } from "./audit-chunks.ts";

/**
 * Audits a published snapshot on its own: its chunks are fetched into a chunk
 * cache (verified) and every cell is scanned for PII patterns that are not our
 * reserved fakes.
 */
export async function auditSnapshot(
  store: BlobStore,
  snapshotId: string,
  workDir: string,
): Promise<{ snapshotId: string; cellsScanned: number; findings: AuditFinding[] }> {
  const manifest = await readManifest(store, snapshotId);
  const cache = new ChunkCache(join(workDir, "chunks"));
  await cache.fill(store, manifest.tables.flatMap((t) => t.chunks));
  const chunks = manifest.tables.flatMap((t) => t.chunks.map((c) => ({ table: t.name, path: cache.pathOf(c.sha256) })));
  const result = await auditChunks(chunks, manifest.tables);
  return { snapshotId, ...result };
}
