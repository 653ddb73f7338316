import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { BlobNotFoundError, InvalidKeyError } from "./blob-store.ts";
import type { BlobStore } from "./blob-store.ts";

const MiB = 1024 * 1024;

/**
 * What every BlobStore must do, run by each store's test file against a real
 * backend. `makeStore` returns an empty store, fresh for each test.
 */
export function describeBlobStoreContract(name: string, makeStore: () => Promise<BlobStore>): void {
  describe(`${name} (BlobStore contract)`, () => {
    it("round-trips a 20 MiB streamed body", async () => {
      const store = await makeStore();
      const size = 20 * MiB;
      const sent = createHash("sha256");
      await store.put("chunks/big", pseudoRandomStream(size, 1, sent));
      expect(await store.head("chunks/big")).toEqual({ size });
      const got = await digest(await store.get("chunks/big"));
      expect(got).toEqual({ sha256: sent.digest("hex"), bytes: size });
    });

    it("round-trips a Buffer body and an empty body", async () => {
      const store = await makeStore();
      await store.put("snapshots/s1/manifest.json", Buffer.from('{"id":"s1"}'));
      expect(await text(await store.get("snapshots/s1/manifest.json"))).toBe('{"id":"s1"}');
      await store.put("empty", Readable.from([]), 0);
      expect(await store.head("empty")).toEqual({ size: 0 });
      expect(await text(await store.get("empty"))).toBe("");
    });

    it("reports a missing key as undefined from head and BlobNotFoundError from get", async () => {
      const store = await makeStore();
      expect(await store.head("chunks/missing")).toBeUndefined();
      await expect(store.get("chunks/missing")).rejects.toBeInstanceOf(BlobNotFoundError);
      await expect(store.get("chunks/missing")).rejects.toMatchObject({ key: "chunks/missing" });
      // a folder is not an object
      await store.put("snapshots/s1/manifest.json", Buffer.from("{}"));
      expect(await store.head("snapshots/s1")).toBeUndefined();
      await expect(store.get("snapshots/s1")).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it("overwrites atomically: readers see the old object until the new one is complete", async () => {
      const store = await makeStore();
      const before = Buffer.alloc(MiB, "a");
      await store.put("snapshots/s1/manifest.json", before);

      const firstHalfTaken = Promise.withResolvers<void>();
      const gate = Promise.withResolvers<void>();
      const writing = store.put(
        "snapshots/s1/manifest.json",
        Readable.from(
          (async function* () {
            yield Buffer.alloc(MiB, "b");
            // resumed only once the store asks for more, so the first half is in its hands
            firstHalfTaken.resolve();
            await gate.promise;
            yield Buffer.alloc(MiB, "b");
          })(),
        ),
      );
      await firstHalfTaken.promise;
      expect(await store.head("snapshots/s1/manifest.json")).toEqual({ size: MiB });
      expect((await digest(await store.get("snapshots/s1/manifest.json"))).sha256).toBe(sha256(before));
      gate.resolve();
      await writing;

      expect((await digest(await store.get("snapshots/s1/manifest.json"))).sha256).toBe(
        sha256(Buffer.alloc(2 * MiB, "b")),
      );
      expect(await collect(store.list(""))).toEqual(["snapshots/s1/manifest.json"]);
    });

    it("keeps the old object and leaves nothing behind when a put fails", async () => {
      const store = await makeStore();
      await store.put("chunks/c1", Buffer.from("old"));

      const failing = Readable.from(
        (async function* () {
          yield Buffer.alloc(MiB, "x");
          throw new Error("source broke");
        })(),
      );
      await expect(store.put("chunks/c1", failing)).rejects.toThrow("source broke");
      await expect(store.put("chunks/c1", Readable.from([Buffer.from("four")]), 5)).rejects.toThrow(/expected 5 bytes/);
      await expect(store.put("chunks/c1", Readable.from([Buffer.from("sixsix")]), 5)).rejects.toThrow(/expected 5 bytes/);
      await expect(store.put("chunks/c1", Buffer.from("four"), 5)).rejects.toThrow(/expected 5 bytes/);
      await expect(store.put("chunks/c2", Readable.from([Buffer.from("four")]), 5)).rejects.toThrow(/expected 5 bytes/);

      expect(await text(await store.get("chunks/c1"))).toBe("old");
      expect(await collect(store.list(""))).toEqual(["chunks/c1"]);
    });

    it("lists keys under a prefix recursively in byte order", async () => {
      const store = await makeStore();
      const keys = [
        "snapshots/s10/manifest.json",
        "chunks/b",
        "snapshots/s1/manifest.json",
        "chunks/ab",
        "snapshots/s1-old/manifest.json",
        "chunks/aa",
        "snapshots/s1/notes/readme",
        "top",
      ];
      for (const key of keys) await store.put(key, Buffer.from(key));

      // '-' < '/' < '0': a folder's keys sort between its neighbours by full key
      expect(await collect(store.list(""))).toEqual([
        "chunks/aa",
        "chunks/ab",
        "chunks/b",
        "snapshots/s1-old/manifest.json",
        "snapshots/s1/manifest.json",
        "snapshots/s1/notes/readme",
        "snapshots/s10/manifest.json",
        "top",
      ]);
      expect(await collect(store.list("chunks/"))).toEqual(["chunks/aa", "chunks/ab", "chunks/b"]);
      expect(await collect(store.list("chunks/a"))).toEqual(["chunks/aa", "chunks/ab"]);
      expect(await collect(store.list("snapshots/s1/"))).toEqual([
        "snapshots/s1/manifest.json",
        "snapshots/s1/notes/readme",
      ]);
      expect(await collect(store.list("snapshots/s1"))).toEqual([
        "snapshots/s1-old/manifest.json",
        "snapshots/s1/manifest.json",
        "snapshots/s1/notes/readme",
        "snapshots/s10/manifest.json",
      ]);
      expect(await collect(store.list("chunks/aa"))).toEqual(["chunks/aa"]);
      expect(await collect(store.list("nothing/"))).toEqual([]);
      expect(await collect(store.list("top/"))).toEqual([]);
    });

    it("deletes, and deleting a missing key is not an error", async () => {
      const store = await makeStore();
      await store.put("chunks/c1", Buffer.from("one"));
      await store.put("chunks/c2", Buffer.from("two"));
      await store.delete("chunks/c1");
      expect(await store.head("chunks/c1")).toBeUndefined();
      await expect(store.get("chunks/c1")).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await collect(store.list("chunks/"))).toEqual(["chunks/c2"]);
      await store.delete("chunks/c1");
      await store.delete("never/was");
    });

    it("rejects keys that could escape the store or differ between stores", async () => {
      const store = await makeStore();
      const bad = ["../x", "/abs", "a//b", "a/../../x", "a\\b", "", "a/", "./a", "a/./b", ".hidden", "a/.tmp", "nul\0"];
      for (const key of bad) {
        await expect(store.put(key, Buffer.from("x")), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.put(key, Readable.from([Buffer.from("x")])), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.get(key), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.head(key), key).rejects.toBeInstanceOf(InvalidKeyError);
        await expect(store.delete(key), key).rejects.toBeInstanceOf(InvalidKeyError);
      }
      for (const prefix of ["../", "/abs", "a//", "a\\"]) {
        await expect(collect(store.list(prefix)), prefix).rejects.toBeInstanceOf(InvalidKeyError);
      }
      await expect(store.get("../x")).rejects.toThrow(/invalid blob key "\.\.\/x": it has a '\.\.' segment/);
      expect(await collect(store.list(""))).toEqual([]);
    });
  });
}

/**
 * `size` bytes of a deterministic pseudo-random sequence, made 1 MiB at a time
 * as the consumer reads, so the body is never held whole. Each chunk also feeds
 * `hash`, if given.
 */
export function pseudoRandomStream(size: number, seed: number, hash?: ReturnType<typeof createHash>): Readable {
  let state = seed >>> 0 || 1;
  let remaining = size;
  return new Readable({
    highWaterMark: MiB,
    read() {
      if (remaining === 0) {
        this.push(null);
        return;
      }
      const chunk = Buffer.allocUnsafe(Math.min(MiB, remaining));
      // xorshift32, four bytes at a time: fast enough that the store is what gets measured
      let i = 0;
      for (; i + 4 <= chunk.length; i += 4) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk.writeUInt32LE(state >>> 0, i);
      }
      for (; i < chunk.length; i++) chunk[i] = i & 0xff;
      remaining -= chunk.length;
      hash?.update(chunk);
      this.push(chunk);
    },
  });
}

/** sha256 and length of a stream, read without keeping it. */
export async function digest(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    hash.update(buffer);
    bytes += buffer.length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks).toString("utf8");
}

async function collect(keys: AsyncIterable<string>): Promise<string[]> {
  const all: string[] = [];
  for await (const key of keys) all.push(key);
  return all;
}

function sha256(buffer: Buffer): string {
  return createHash("sha256").update(buffer).digest("hex");
}
