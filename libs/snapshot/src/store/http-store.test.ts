import { createReadStream, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type cassandra from "cassandra-driver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cassandraClient, createKeyspace, uniqueName } from "@devenv/testing";
import { SnapshotError } from "../errors.ts";
import { exportSnapshot } from "../export/export-snapshot.ts";
import { restoreSnapshot } from "../restore/restore-snapshot.ts";
import { BlobNotFoundError } from "./blob-store.ts";
import { HttpSnapshotStore } from "./http-store.ts";
import { LocalDirStore } from "./local-store.ts";

/**
 * Serves a store directory the way signed URLs do: `/snapshots/...` and `/chunks/...`
 * with `?sig=valid`; a wrong signature is 403. `plan` injects failures per path.
 */
function serveStore(root: string) {
  const requests: string[] = [];
  const ranges = new Map<string, string>();
  const plan = new Map<string, ("503" | "reset" | "cut")[]>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://store.invalid");
    requests.push(`${request.method} ${url.pathname}`);
    if (request.headers.range) ranges.set(url.pathname, request.headers.range);
    const failure = plan.get(url.pathname)?.shift();
    if (failure === "reset") return request.socket.destroy();
    if (failure === "503") return response.writeHead(503).end("busy");
    if (url.searchParams.get("sig") !== "valid") return response.writeHead(403).end("expired");
    const file = join(root, ...url.pathname.split("/").filter(Boolean));
    const info = statSync(file, { throwIfNoEntry: false });
    if (!info?.isFile()) return response.writeHead(404).end("no such key");
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
    if (range) {
      const start = Number(range[1]);
      const end = range[2] ? Number(range[2]) : info.size - 1;
      const part = readFileSync(file).subarray(start, end + 1);
      return response.writeHead(206, { "content-range": `bytes ${start}-${end}/${info.size}`, "content-length": part.length }).end(part);
    }
    if (failure === "cut") {
      // half the body, then the connection drops
      response.writeHead(200, { "content-length": info.size });
      response.write(readFileSync(file).subarray(0, Math.floor(info.size / 2)));
      return setTimeout(() => request.socket.destroy(), 20);
    }
    response.writeHead(200, { "content-length": info.size });
    createReadStream(file).pipe(response);
  });
  return { server, requests, plan, ranges };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("HttpSnapshotStore", () => {
  let client: cassandra.Client;
  let dir: string;
  let source: string;
  let base: string;
  let served: ReturnType<typeof serveStore>;
  const fastRetries = { backoff: { initialMs: 1, maxMs: 5 } };
  const location = (sig = "valid") => ({
    id: "nightly",
    manifestUrl: `${base}/snapshots/nightly/manifest.json?sig=${sig}`,
    chunkUrlTemplate: `${base}/chunks/{sha256}?sig=${sig}`,
  });

  beforeAll(async () => {
    client = await cassandraClient();
    dir = mkdtempSync(join(tmpdir(), "devenv-http-store-"));
    source = await createKeyspace(client, "src");
    await client.execute(`CREATE TABLE ${source}.items (id int PRIMARY KEY, name text)`);
    for (let i = 0; i < 300; i++) await client.execute(`INSERT INTO ${source}.items (id, name) VALUES (?, ?)`, [i, `item ${i}`], { prepare: true });
    await exportSnapshot({ client, keyspace: source, store: new LocalDirStore(join(dir, "store")), snapshotId: "nightly", chunkCount: 4 });
    served = serveStore(join(dir, "store"));
    base = await listen(served.server);
  });

  afterAll(async () => {
    served?.server.closeAllConnections();
    served?.server.close();
    await client?.shutdown();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("restores a snapshot served over HTTP, retrying 503s and dropped connections", async () => {
    const chunks = readdirSync(join(dir, "store", "chunks"));
    served.plan.set(`/chunks/${chunks[0]}`, ["503", "reset"]);
    served.plan.set(`/chunks/${chunks[1]}`, ["cut"]);
    served.plan.set("/snapshots/nightly/manifest.json", ["503"]);
    served.requests.length = 0;
    const target = uniqueName("dst");
    const result = await restoreSnapshot({
      store: new HttpSnapshotStore(location(), fastRetries),
      snapshotId: "nightly",
      client,
      keyspace: target,
      workDir: join(dir, "work"),
      loadPath: "cql",
    });
    expect(result.rows).toBe(300);
    const count = await client.execute(`SELECT count(*) FROM ${target}.items`);
    expect(Number(count.first()?.get(0))).toBe(300);
    expect(served.requests.filter((r) => r === `GET /chunks/${chunks[0]}`)).toHaveLength(3);
    expect(served.requests.filter((r) => r === "GET /snapshots/nightly/manifest.json")).toHaveLength(2);
    // the body that broke off was resumed, not fetched again from the start
    expect(served.requests.filter((r) => r === `GET /chunks/${chunks[1]}`)).toHaveLength(2);
    expect(served.ranges.get(`/chunks/${chunks[1]}`)).toMatch(/^bytes=[1-9]\d*-$/);
  });

  it("reports head and get of a missing chunk as not found", async () => {
    const store = new HttpSnapshotStore(location(), fastRetries);
    const missing = `chunks/${"0".repeat(64)}`;
    expect(await store.head(missing)).toBeUndefined();
    await expect(store.get(missing)).rejects.toBeInstanceOf(BlobNotFoundError);
    // keys the snapshot gave no URL for are not there either
    await expect(store.get("snapshots/other/manifest.json")).rejects.toBeInstanceOf(BlobNotFoundError);
    const chunk = readdirSync(join(dir, "store", "chunks"))[0]!;
    // sized by a one-byte ranged GET: signed URLs allow GET only
    served.requests.length = 0;
    expect(await store.head(`chunks/${chunk}`)).toEqual({ size: statSync(join(dir, "store", "chunks", chunk)).size });
    expect(served.requests).toEqual([`GET /chunks/${chunk}`]);
  });

  it("keeps streaming a body that takes longer than the headers timeout", async () => {
    const slow = createServer((_request, response) => {
      response.writeHead(200, { "content-length": 3 });
      response.write("a");
      setTimeout(() => response.write("b"), 150);
      setTimeout(() => response.end("c"), 300);
    });
    const url = await listen(slow);
    try {
      const store = new HttpSnapshotStore({ id: "s", manifestUrl: `${url}/m`, chunkUrlTemplate: `${url}/c/{sha256}` }, { headersTimeoutMs: 100 });
      let text = "";
      for await (const part of await store.get(`chunks/${"a".repeat(64)}`)) text += String(part);
      expect(text).toBe("abc");
    } finally {
      slow.closeAllConnections();
      slow.close();
    }
  });

  it("fails at once with a clear error when the signature is refused (403)", async () => {
    served.requests.length = 0;
    const store = new HttpSnapshotStore(location("expired"), fastRetries);
    const attempt = store.get("snapshots/nightly/manifest.json");
    await expect(attempt).rejects.toBeInstanceOf(SnapshotError);
    await expect(attempt).rejects.toThrow(/refused \(HTTP 403\): the signed URL has expired/);
    await expect(attempt).rejects.not.toThrow(/sig=/);
    expect(served.requests).toHaveLength(1);
  });

  it("gives up after the bounded number of attempts on a server that keeps failing", async () => {
    const chunk = readdirSync(join(dir, "store", "chunks"))[1]!;
    served.plan.set(`/chunks/${chunk}`, ["503", "503", "503", "503"]);
    served.requests.length = 0;
    const store = new HttpSnapshotStore(location(), { ...fastRetries, attempts: 3 });
    await expect(store.get(`chunks/${chunk}`)).rejects.toThrow(/failed after 3 attempts; last: HTTP 503/);
    expect(served.requests).toHaveLength(3);
    served.plan.delete(`/chunks/${chunk}`);
  });

  it("refuses writes, deletes and listing", async () => {
    const store = new HttpSnapshotStore(location());
    await expect(store.put("chunks/x", Buffer.from("x"))).rejects.toThrow(/read-only store/);
    await expect(store.delete("chunks/x")).rejects.toThrow(/read-only store/);
    await expect(store.list("chunks/")[Symbol.asyncIterator]().next()).rejects.toThrow(/cannot list/);
  });

  it("stops retrying when its signal aborts", async () => {
    const controller = new AbortController();
    const chunk = readdirSync(join(dir, "store", "chunks"))[2]!;
    served.plan.set(`/chunks/${chunk}`, ["503", "503", "503"]);
    const store = new HttpSnapshotStore(location(), { backoff: { initialMs: 10_000, maxMs: 10_000 }, signal: controller.signal, random: () => 1 });
    const attempt = store.get(`chunks/${chunk}`);
    setTimeout(() => controller.abort(new Error("cancelled by the test")), 50);
    await expect(attempt).rejects.toThrow("cancelled by the test");
    served.plan.delete(`/chunks/${chunk}`);
  });
});
