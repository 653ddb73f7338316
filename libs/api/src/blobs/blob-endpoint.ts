import type { IncomingMessage, ServerResponse } from "node:http";
import { pipeline } from "node:stream/promises";
import { SnapshotManifest, snapshotKeys } from "@devenv/protocol";
import type { BlobStore } from "@devenv/snapshot";
import { BlobNotFoundError } from "@devenv/snapshot";
import type { Clock } from "@devenv/core";
import type { UrlSigner } from "./url-signer.ts";

export interface BlobEndpointOptions {
  signer: UrlSigner;
  /** The snapshot store: read for manifests (always) and bytes (when not redirecting). */
  blobs: BlobStore;
  clock: Clock;
  /** When set, answer with a redirect to this URL instead of streaming (S3 presigned URLs). */
  redirect?: (key: string, method: "GET" | "HEAD") => Promise<string>;
  /** Manifests whose chunk lists are kept in memory (default 32). */
  cachedManifests?: number;
}

export const blobPathPrefix = "/blobs/";

const chunkKey = /^chunks\/([0-9a-f]{64})$/;

/**
 * `GET|HEAD /blobs/<key>?snapshot=<id>&exp=<unix seconds>&sig=<hmac>`: serves an object of
 * the snapshot store to whoever holds a signed URL for the snapshot, and only the objects
 * of that snapshot (its manifest and the chunks the manifest lists). Bad or altered
 * signatures and expired ones get 403, a key outside the snapshot 403 too, a missing
 * object 404.
 */
export class BlobEndpoint {
  readonly #options: BlobEndpointOptions;
  /** snapshot id -> the sha256 of its chunks; snapshots are immutable, so entries never go stale. */
  readonly #chunkSets = new Map<string, Promise<Set<string>>>();

  constructor(options: BlobEndpointOptions) {
    this.#options = options;
  }

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method === "HEAD" ? "HEAD" : request.method === "GET" ? "GET" : undefined;
    if (method === undefined) return plain(response, 405, "only GET and HEAD", { allow: "GET, HEAD" });
    const url = new URL(request.url ?? "/", "http://localhost");
    let key: string;
    try {
      key = decodeURIComponent(url.pathname.slice(blobPathPrefix.length));
    } catch {
      return plain(response, 400, "malformed path");
    }
    const { check, snapshotId } = this.#options.signer.verify(url.searchParams, this.#options.clock.date());
    if (check === "invalid") return plain(response, 403, "signature missing or not valid");
    if (check === "expired") return plain(response, 403, "signed URL expired: ask the control plane for a fresh assignment");
    const allowed = await this.#belongsTo(snapshotId!, key);
    if (allowed === "no-snapshot") return plain(response, 404, `snapshot ${snapshotId} not found`);
    if (!allowed) return plain(response, 403, `${key} is not part of snapshot ${snapshotId}`);

    if (this.#options.redirect) {
      response.writeHead(302, { location: await this.#options.redirect(key, method), "cache-control": "no-store" });
      response.end();
      return;
    }
    const head = await this.#options.blobs.head(key);
    if (head === undefined) return plain(response, 404, `${key} not found`);
    response.writeHead(200, { "content-type": key.endsWith(".json") ? "application/json" : "application/octet-stream", "content-length": String(head.size) });
    if (method === "HEAD") {
      response.end();
      return;
    }
    await pipeline(await this.#options.blobs.get(key), response);
  }

  async #belongsTo(snapshotId: string, key: string): Promise<boolean | "no-snapshot"> {
    if (key === snapshotKeys.manifest(snapshotId)) return true;
    const chunk = chunkKey.exec(key);
    if (!chunk) return false;
    const chunks = await this.#chunksOf(snapshotId);
    if (chunks === undefined) return "no-snapshot";
    return chunks.has(chunk[1]!);
  }

  async #chunksOf(snapshotId: string): Promise<Set<string> | undefined> {
    let entry = this.#chunkSets.get(snapshotId);
    if (entry === undefined) {
      entry = this.#readChunkSet(snapshotId);
      this.#chunkSets.set(snapshotId, entry);
      const limit = this.#options.cachedManifests ?? 32;
      while (this.#chunkSets.size > limit) this.#chunkSets.delete(this.#chunkSets.keys().next().value!);
    }
    try {
      return await entry;
    } catch (error) {
      this.#chunkSets.delete(snapshotId);
      if (error instanceof BlobNotFoundError) return undefined;
      throw error;
    }
  }

  async #readChunkSet(snapshotId: string): Promise<Set<string>> {
    const stream = await this.#options.blobs.get(snapshotKeys.manifest(snapshotId));
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    const manifest = SnapshotManifest.parse(JSON.parse(Buffer.concat(parts).toString("utf8")));
    return new Set(manifest.tables.flatMap((table) => table.chunks.map((c) => c.sha256)));
  }
}

function plain(response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
  response.end(`${message}\n`);
}
