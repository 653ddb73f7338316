import { listSnapshotIds, openStore, type BlobStore } from "@devenv/snapshot";
import { CliError } from "../errors.ts";

export function openStoreOrFail(location: string): BlobStore {
  try {
    return openStore(location);
  } catch (error) {
    throw new CliError("usage", (error as Error).message, { cause: error });
  }
}

/** `<store>/snapshots/<id>[/manifest.json]`, or a store plus --id, or a store holding exactly one snapshot. */
export async function resolveSnapshot(from: string, id: string | undefined): Promise<{ store: BlobStore; id: string }> {
  const match = /^(.*?)\/?snapshots\/([^/]+)\/?(?:manifest\.json)?$/.exec(from);
  if (match && id === undefined) return { store: openStoreOrFail(match[1] || "."), id: match[2]! };
  const store = openStoreOrFail(from);
  if (id !== undefined) return { store, id };
  const ids = await listSnapshotIds(store);
  if (ids.length === 1) return { store, id: ids[0]! };
  if (ids.length === 0) throw new CliError("not-found", `no snapshots in ${store.location}`);
  throw new CliError("usage", `${store.location} holds ${ids.length} snapshots; pick one with --id (${ids.slice(-5).join(", ")})`);
}
