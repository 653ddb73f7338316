import type { SnapshotLocation } from "@devenv/protocol";
import { snapshotKeys } from "@devenv/protocol";
import type { Clock } from "@devenv/core";
import type { UrlSigner } from "./url-signer.ts";

/**
 * Turns a snapshot into what an agent needs to read it and nothing more: expiring signed
 * URLs for its manifest and chunks. Hosts need no cloud credentials.
 */
export interface SnapshotAccess {
  locate(snapshotId: string): Promise<SnapshotLocation>;
}

export interface SignedUrlOptions {
  /** Base URL agents reach the control plane at, e.g. http://10.0.0.5:7070. */
  publicUrl: string;
  signer: UrlSigner;
  clock: Clock;
  /** How long the URLs of one assignment stay valid (default 6 h: a large restore takes a while). */
  ttlMs?: number;
}

export const defaultUrlTtlMs = 6 * 60 * 60 * 1000;

/** URL of `key` on the control plane's blob endpoint, signed for the snapshot. Keeps `{sha256}` literal. */
export function signedBlobUrl(options: SignedUrlOptions, snapshotId: string, key: string): string {
  const expiresAt = new Date(options.clock.now() + (options.ttlMs ?? defaultUrlTtlMs));
  const base = options.publicUrl.replace(/\/+$/, "");
  const path = key.split("/").map((segment) => (segment === "{sha256}" ? segment : encodeURIComponent(segment))).join("/");
  return `${base}/blobs/${path}?${options.signer.sign(snapshotId, expiresAt).toString()}`;
}

/** The local blob directory: the control plane serves manifest and chunks itself. */
export class LocalSnapshotAccess implements SnapshotAccess {
  readonly #options: SignedUrlOptions;

  constructor(options: SignedUrlOptions) {
    this.#options = options;
  }

  async locate(snapshotId: string): Promise<SnapshotLocation> {
    return {
      id: snapshotId,
      manifestUrl: signedBlobUrl(this.#options, snapshotId, snapshotKeys.manifest(snapshotId)),
      chunkUrlTemplate: signedBlobUrl(this.#options, snapshotId, snapshotKeys.chunk("{sha256}")),
    };
  }
}
