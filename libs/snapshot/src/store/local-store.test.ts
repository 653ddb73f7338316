import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeBlobStoreContract } from "./blob-store-contract.ts";
import { InvalidKeyError } from "./blob-store.ts";
import { LocalDirStore } from "./local-store.ts";
import { openStore } from "./open-store.ts";

let scratch: string;
let stores = 0;
beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), "devenv-local-store-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A store in a folder that does not exist yet: the first put creates it. */
function freshRoot(): string {
  stores += 1;
  return path.join(scratch, `store-${stores}`, "root");
}

describeBlobStoreContract("LocalDirStore", async () => new LocalDirStore(freshRoot()));

describe("LocalDirStore", () => {
  it("writes nothing outside its folder for keys that try to escape it", async () => {
    const root = freshRoot();
    const store = new LocalDirStore(root);
    await store.put("inside", Buffer.from("ok"));
    for (const key of ["../escaped", "../../escaped", "a/../../escaped", "/tmp/escaped", "..\\escaped"]) {
      await expect(store.put(key, Buffer.from("x"))).rejects.toBeInstanceOf(InvalidKeyError);
    }
    expect(await readdir(path.dirname(root))).toEqual(["root"]);
    expect(await readdir(root)).toEqual(["inside"]);
  });

  it("leaves no temporary file behind after a put, failed or not", async () => {
    const root = freshRoot();
    const store = new LocalDirStore(root);
    await store.put("chunks/c1", Readable.from([Buffer.from("one")]));
    const failing = Readable.from(
      (async function* () {
        yield Buffer.from("partial");
        throw new Error("source broke");
      })(),
    );
    await expect(store.put("chunks/c2", failing)).rejects.toThrow("source broke");
    expect(await readdir(path.join(root, "chunks"))).toEqual(["c1"]);
  });

  it("skips dot-names (a crashed put's temporary files) and what is neither file nor folder", async () => {
    const root = freshRoot();
    const store = new LocalDirStore(root);
    await store.put("chunks/c1", Buffer.from("one"));
    await writeFile(path.join(root, "chunks", ".c2.0123456789abcdef.tmp"), "half");
    await mkdir(path.join(root, ".trash"));
    await writeFile(path.join(root, ".trash", "x"), "x");
    await symlink("/etc/passwd", path.join(root, "chunks", "link"));
    const keys: string[] = [];
    for await (const key of store.list("")) keys.push(key);
    expect(keys).toEqual(["chunks/c1"]);
  });

  it("does not create its folder until the first put", async () => {
    const root = freshRoot();
    const store = new LocalDirStore(root);
    expect(await store.head("chunks/c1")).toBeUndefined();
    for await (const key of store.list("")) expect.fail(`unexpected key ${key}`);
    await store.delete("chunks/c1");
    expect(existsSync(root)).toBe(false);
  });
});

describe("openStore for local folders", () => {
  it("opens a file:// URL and a plain path as a LocalDirStore", async () => {
    const root = freshRoot();
    const byUrl = openStore(pathToFileURL(root).href);
    expect(byUrl).toBeInstanceOf(LocalDirStore);
    expect(byUrl.location).toBe(root);
    await byUrl.put("k", Buffer.from("v"));

    const byPath = openStore(root);
    expect(byPath.location).toBe(root);
    expect(await byPath.head("k")).toEqual({ size: 1 });
    expect(openStore("relative/dir").location).toBe(path.resolve("relative/dir"));
  });

  it("rejects other schemes and malformed file URLs with a clear message", () => {
    expect(() => openStore("gs://bucket/x")).toThrow(
      'unsupported store location "gs://bucket/x": use s3://bucket/prefix, file:///abs/dir or a directory path',
    );
    expect(() => openStore("file://host/dir")).toThrow(/expected file:\/\/\/absolute\/dir/);
    expect(() => openStore("")).toThrow(/store location is empty/);
  });
});
