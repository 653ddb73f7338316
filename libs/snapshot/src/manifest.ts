import { SnapshotManifest, snapshotFormatVersion, snapshotKeys } from "@devenv/protocol";
import { BlobNotFoundError, type BlobStore } from "./store/blob-store.ts";
import { SnapshotError } from "./errors.ts";

const maxManifestBytes = 64 * 1024 * 1024;

/** Reads and validates a snapshot's manifest, with errors that say what is wrong. */
export async function readManifest(store: BlobStore, snapshotId: string): Promise<SnapshotManifest> {
  const key = snapshotKeys.manifest(snapshotId);
  let text: string;
  try {
    const body = await store.get(key);
    const parts: Buffer[] = [];
    let size = 0;
    for await (const part of body) {
      size += (part as Buffer).length;
      if (size > maxManifestBytes) throw new SnapshotError("corrupt", `manifest of "${snapshotId}" is larger than ${maxManifestBytes} bytes`);
      parts.push(part as Buffer);
    }
    text = Buffer.concat(parts).toString("utf8");
  } catch (error) {
    if (error instanceof BlobNotFoundError) {
      throw new SnapshotError("not-found", `snapshot "${snapshotId}" not found in ${store.location} (no ${key})`, { cause: error });
    }
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SnapshotError("corrupt", `manifest of "${snapshotId}" is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const version = (json as { formatVersion?: unknown } | null)?.formatVersion;
  if (version !== snapshotFormatVersion) {
    throw new SnapshotError(
      "unsupported-format",
      `snapshot "${snapshotId}" has format version ${JSON.stringify(version)}; this devenv reads version ${snapshotFormatVersion}`,
    );
  }
  const parsed = SnapshotManifest.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new SnapshotError("corrupt", `manifest of "${snapshotId}" is invalid at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  if (parsed.data.id !== snapshotId) {
    throw new SnapshotError("corrupt", `manifest at ${key} names snapshot "${parsed.data.id}"`);
  }
  return parsed.data;
}

/** Snapshot ids in a store, sorted. */
export async function listSnapshotIds(store: BlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const key of store.list(snapshotKeys.snapshotsPrefix)) {
    const match = /^snapshots\/([^/]+)\/manifest\.json$/.exec(key);
    if (match?.[1]) ids.push(match[1]);
  }
  return ids.sort();
}
