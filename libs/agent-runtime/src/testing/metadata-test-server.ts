import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface MetadataTestServer {
  url: string;
  /** Paths (after /latest) and the bodies served for them; absent paths are 404. */
  documents: Map<string, string>;
  /** Requests seen, as "METHOD path"; GETs without a valid token are refused with 401. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * A real HTTP server speaking IMDSv2: `PUT /latest/api/token` with a TTL header issues a
 * token, and every GET must carry it. Tests fill `documents` (identity document, life
 * cycle, and later a spot instance-action notice).
 */
export async function startMetadataTestServer(identity: {
  instanceId: string;
  instanceType: string;
  region: string;
  zone: string;
  lifecycle: "spot" | "on-demand";
}): Promise<MetadataTestServer> {
  const tokens = new Set<string>();
  const requests: string[] = [];
  const documents = new Map<string, string>([
    [
      "/dynamic/instance-identity/document",
      JSON.stringify({ instanceId: identity.instanceId, instanceType: identity.instanceType, region: identity.region, availabilityZone: identity.zone, accountId: "123456789012" }),
    ],
    ["/meta-data/instance-life-cycle", identity.lifecycle],
    ["/meta-data/instance-id", identity.instanceId],
  ]);
  const server: Server = createServer((request, response) => {
    // the SDK joins the endpoint's "/" and the path into "//latest/...", which IMDS accepts
    const path = (request.url ?? "/").split("?")[0]!.replace(/^\/+/, "/");
    requests.push(`${request.method} ${path}`);
    if (request.method === "PUT" && path === "/latest/api/token") {
      const ttl = Number(request.headers["x-aws-ec2-metadata-token-ttl-seconds"]);
      if (!(ttl >= 1 && ttl <= 21_600)) return response.writeHead(400).end("missing or invalid X-aws-ec2-metadata-token-ttl-seconds");
      const token = randomBytes(16).toString("base64");
      tokens.add(token);
      return response.writeHead(200, { "x-aws-ec2-metadata-token-ttl-seconds": String(ttl) }).end(token);
    }
    if (request.method !== "GET") return response.writeHead(405).end();
    const token = request.headers["x-aws-ec2-metadata-token"];
    if (typeof token !== "string" || !tokens.has(token)) return response.writeHead(401).end("token required");
    const body = path.startsWith("/latest/") ? documents.get(path.slice("/latest".length)) : undefined;
    if (body === undefined) return response.writeHead(404).end("Not Found");
    return response.writeHead(200, { "content-type": "text/plain" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    documents,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
