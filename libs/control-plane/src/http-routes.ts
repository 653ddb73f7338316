import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { blobPathPrefix, type BlobEndpoint, type ExtraRoutes } from "@devenv/api";
import type { Store } from "@devenv/store";

export interface HttpRoutesParts {
  trpc: RequestListener;
  blobEndpoint: BlobEndpoint;
  store: Store;
  metrics: Registry;
  /** The fleet page and Slack commands. */
  extra: ExtraRoutes;
  logger: Logger;
}

/** Every HTTP route of the control plane: the API under /trpc, signed blobs, health, readiness, metrics, then the extra routes. */
export function httpRoutes(parts: HttpRoutesParts): (request: IncomingMessage, response: ServerResponse) => void {
  const { logger } = parts;
  async function route(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
    if (path.startsWith("/trpc/")) return parts.trpc(request, response);
    if (path.startsWith(blobPathPrefix)) return parts.blobEndpoint.handle(request, response);
    if (path === "/healthz") return sendJson(response, 200, { ok: true });
    if (path === "/readyz") {
      try {
        await withTimeout(parts.store.users.count(), 2_000);
        return sendJson(response, 200, { ok: true, store: parts.store.dialect });
      } catch (error) {
        logger.warn({ err: error }, "not ready: the store does not answer");
        return sendJson(response, 503, { ok: false, store: parts.store.dialect, error: "the store does not answer" });
      }
    }
    if (path === "/metrics") {
      const text = await parts.metrics.metrics();
      response.writeHead(200, { "content-type": parts.metrics.contentType });
      response.end(text);
      return;
    }
    if (await parts.extra.handle(request, response, path)) return;
    sendJson(response, 404, { error: `no such path: ${path}` });
  }

  return (request, response) => {
    const started = performance.now();
    const path = (request.url ?? "/").split("?")[0]!;
    response.on("finish", () => {
      if (path === "/healthz" || path === "/readyz" || path === "/metrics") return;
      // never the query: blob URLs carry their signature there
      logger.info({ method: request.method, path, status: response.statusCode, ms: Math.round(performance.now() - started) }, "request");
    });
    route(request, response, path).catch((error: unknown) => {
      logger.error({ err: error, path }, "request failed");
      if (!response.headersSent) sendJson(response, 500, { error: "internal error; the control plane's log has the details" });
      else response.destroy();
    });
  };
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify(body));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolvePromise(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
