import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { backoffDelay, systemClock, type BackoffPolicy, type Clock } from "@devenv/core";
import { snapshotKeys } from "@devenv/protocol";
import type { SnapshotLocation } from "@devenv/protocol";
import { SnapshotError } from "../errors.ts";
import { assertValidKey, assertValidPrefix, BlobNotFoundError } from "./blob-store.ts";
import type { BlobStore } from "./blob-store.ts";

export interface HttpSnapshotStoreOptions {
  /**
   * Attempts per request on a 5xx answer or a network error (default 10: with the
   * default backoff up to about a minute, enough to ride out a control-plane restart).
   */
  attempts?: number;
  /** Waits between attempts (default: from 500 ms, doubling up to 10 s, full jitter). */
  backoff?: BackoffPolicy;
  /** How long to wait for response headers (default 30 s); the body then streams without a limit. */
  headersTimeoutMs?: number;
  /** Aborts requests in flight and pending retries (e.g. a cancelled restore). */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  random?: () => number;
  clock?: Clock;
}

export const defaultHttpStoreBackoff: BackoffPolicy = { initialMs: 500, maxMs: 10_000 };

/**
 * A read-only BlobStore over one snapshot's signed URLs: the manifest URL and a chunk URL
 * template with `{sha256}`. The host needs no cloud credentials, only these URLs, which
 * the control plane signs per assignment. 5xx answers and network errors are retried
 * with capped backoff; 403 (the signature expired or was refused) and 404 fail at once
 * with an error that says which.
 */
export class HttpSnapshotStore implements BlobStore {
  readonly location: string;
  readonly #snapshot: SnapshotLocation;
  readonly #attempts: number;
  readonly #backoffPolicy: BackoffPolicy;
  readonly #headersTimeoutMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #fetch: typeof fetch;
  readonly #random: () => number;
  readonly #clock: Clock;

  constructor(snapshot: SnapshotLocation, options: HttpSnapshotStoreOptions = {}) {
    if (!snapshot.chunkUrlTemplate.includes("{sha256}")) {
      throw new SnapshotError("invalid-input", `chunk URL template of snapshot "${snapshot.id}" lacks {sha256}`);
    }
    this.#snapshot = snapshot;
    this.location = `${redact(snapshot.manifestUrl)} (snapshot ${snapshot.id})`;
    this.#attempts = Math.max(1, options.attempts ?? 10);
    this.#backoffPolicy = options.backoff ?? defaultHttpStoreBackoff;
    this.#headersTimeoutMs = options.headersTimeoutMs ?? 30_000;
    this.#signal = options.signal;
    this.#fetch = options.fetch ?? fetch;
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * A signed URL is valid for one method (GET), so the size is read with a one-byte
   * ranged GET: `Content-Range: bytes 0-0/SIZE`, or the whole length when the server
   * ignores ranges (the body is then dropped unread).
   */
  async head(key: string): Promise<{ size: number } | undefined> {
    const response = await this.#request(key, "GET", { range: "bytes=0-0" });
    if (response === undefined) return undefined;
    await response.body?.cancel().catch(() => {});
    const total = /\/(\d+)$/.exec(response.headers.get("content-range") ?? "")?.[1];
    const size = Number(total ?? response.headers.get("content-length"));
    return { size: Number.isFinite(size) ? size : 0 };
  }

  /** Streams the object; a body that breaks off is resumed with a ranged GET from where it stopped. */
  async get(key: string): Promise<Readable> {
    const response = await this.#request(key, "GET");
    if (response === undefined) throw new BlobNotFoundError(this.location, key);
    return Readable.from(this.#resumingBody(key, response), { objectMode: false });
  }

  async put(key: string, _body: Readable | Buffer, _size?: number): Promise<void> {
    throw new SnapshotError("invalid-input", `cannot write ${key}: ${this.location} is a read-only store of signed URLs`);
  }

  async delete(key: string): Promise<void> {
    throw new SnapshotError("invalid-input", `cannot delete ${key}: ${this.location} is a read-only store of signed URLs`);
  }

  // signed URLs name objects one at a time, so there is nothing to list with
  async *list(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    throw new SnapshotError("invalid-input", `cannot list ${prefix || "keys"}: ${this.location} only reads objects it is given URLs for`);
  }

  async *#resumingBody(key: string, first: Response): AsyncGenerator<Uint8Array> {
    let response = first;
    let received = 0;
    // bytes to drop from the current body: a server that ignores Range starts again at 0
    let skip = 0;
    for (let resumes = 0; ; ) {
      try {
        if (!response.body) return;
        for await (const part of response.body as WebReadableStream<Uint8Array>) {
          if (skip >= part.length) {
            skip -= part.length;
            continue;
          }
          const fresh = skip > 0 ? part.subarray(skip) : part;
          skip = 0;
          received += fresh.length;
          yield fresh;
        }
        return;
      } catch (error) {
        this.#signal?.throwIfAborted();
        resumes += 1;
        if (resumes >= this.#attempts) {
          throw new SnapshotError("unavailable", `reading ${key} from ${this.location} broke off ${resumes} times; last after ${received} bytes: ${describeError(error)}`);
        }
        await this.#backoff(resumes);
        const next = await this.#request(key, "GET", { range: `bytes=${received}-` });
        if (next === undefined) throw new BlobNotFoundError(this.location, key);
        response = next;
        skip = next.status === 206 ? 0 : received;
      }
    }
  }

  /** The URL a key maps to; only the snapshot's own manifest and chunks have one. */
  urlOf(key: string): string | undefined {
    assertValidKey(key);
    if (key === snapshotKeys.manifest(this.#snapshot.id)) return this.#snapshot.manifestUrl;
    const chunk = /^chunks\/([0-9a-f]{64})$/.exec(key);
    if (chunk) return this.#snapshot.chunkUrlTemplate.replaceAll("{sha256}", chunk[1]!);
    return undefined;
  }

  /** The response (2xx), undefined for 404 or a key without a URL; other failures throw. */
  async #request(key: string, method: "GET", headers: Record<string, string> = {}): Promise<Response | undefined> {
    const url = this.urlOf(key);
    if (url === undefined) return undefined;
    let lastProblem = "";
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      this.#signal?.throwIfAborted();
      let response: Response;
      // the timeout covers the wait for headers only: a large body may stream for longer
      const request = new AbortController();
      const timer = setTimeout(() => request.abort(new Error(`no response headers within ${this.#headersTimeoutMs} ms`)), this.#headersTimeoutMs);
      const signal = this.#signal ? AbortSignal.any([this.#signal, request.signal]) : request.signal;
      try {
        response = await this.#fetch(url, { method, headers, signal, redirect: "follow" });
      } catch (error) {
        this.#signal?.throwIfAborted();
        lastProblem = `network error: ${describeError(error)}`;
        await this.#backoff(attempt);
        continue;
      } finally {
        clearTimeout(timer);
      }
      if (response.ok) return response;
      await response.body?.cancel().catch(() => {});
      if (response.status === 404) return undefined;
      if (response.status === 403 || response.status === 401) {
        throw new SnapshotError(
          "unavailable",
          `${method} ${key} from ${this.location} was refused (HTTP ${response.status}): the signed URL has expired or is not valid; ask the control plane for a fresh assignment`,
        );
      }
      if (response.status < 500 && response.status !== 429) {
        throw new SnapshotError("failed", `${method} ${key} from ${this.location} failed: HTTP ${response.status} ${response.statusText}`);
      }
      lastProblem = `HTTP ${response.status} ${response.statusText}`;
      await this.#backoff(attempt);
    }
    throw new SnapshotError("unavailable", `${method} ${key} from ${this.location} failed after ${this.#attempts} attempts; last: ${lastProblem}`);
  }

  async #backoff(attempt: number): Promise<void> {
    if (attempt >= this.#attempts) return;
    await this.#clock.sleep(backoffDelay(this.#backoffPolicy, attempt - 1, this.#random), this.#signal);
  }
}

/** Signed URLs carry their signature in the query: never put it in logs or errors. */
function redact(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}
