import { createReadStream, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { SnapshotLocation } from "@devenv/protocol";

export interface SnapshotTestServer {
  url: string;
  /** Chunks served with one byte flipped (their sha256 no longer matches). */
  corrupt: Set<string>;
  /** Delay before each chunk response, to keep a restore running long enough to interrupt. */
  chunkDelayMs: number;
  /** Signed-URL style location of a snapshot in the served store. */
  locationOf(snapshotId: string): SnapshotLocation;
  close(): Promise<void>;
}

/** Serves a local store directory the way signed URLs would (`?sig=` required). */
export async function startSnapshotTestServer(storeDir: string): Promise<SnapshotTestServer> {
  const corrupt = new Set<string>();
  const state = { chunkDelayMs: 0 };
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://store.invalid");
    if (url.searchParams.get("sig") !== "test") return response.writeHead(403).end("signature expired");
    const segments = url.pathname.split("/").filter(Boolean);
    const file = join(storeDir, ...segments);
    const info = statSync(file, { throwIfNoEntry: false });
    if (!info?.isFile() || segments.some((s) => s.startsWith("."))) return response.writeHead(404).end("not found");
    // a delayed chunk may outlive its test's store dir: the request fails, never the process
    const send = () => {
      const sha = segments[0] === "chunks" ? segments[1]! : undefined;
      if (sha && corrupt.has(sha)) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch {
          return response.writeHead(404).end("not found");
        }
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        return response.writeHead(200, { "content-length": bytes.length }).end(bytes);
      }
      const stream = createReadStream(file);
      stream.once("error", () => (response.headersSent ? response.destroy() : response.writeHead(404).end("not found")));
      stream.once("open", () => {
        response.writeHead(200, { "content-length": info.size });
        stream.pipe(response);
      });
    };
    if (segments[0] === "chunks" && state.chunkDelayMs > 0) setTimeout(send, state.chunkDelayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    corrupt,
    get chunkDelayMs() {
      return state.chunkDelayMs;
    },
    set chunkDelayMs(ms: number) {
      state.chunkDelayMs = ms;
    },
    locationOf: (snapshotId) => ({
      id: snapshotId,
      manifestUrl: `${url}/snapshots/${snapshotId}/manifest.json?sig=test`,
      chunkUrlTemplate: `${url}/chunks/{sha256}?sig=test`,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
