import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Store, User } from "@devenv/store";
import { roleSummary } from "../policy.ts";
import type { ExtraRoutes, RoutesContext } from "../routes-context.ts";
import { bearerOf } from "../trpc.ts";
import { FleetFeed } from "./fleet-feed.ts";
import { scopeOf } from "./fleet-view.ts";

export interface FleetRoutesOptions {
  /** How often the store is read for open pages; default 1 s. */
  pollIntervalMs?: number;
  /** A comment line keeps idle streams open through proxies; default every 15 s. */
  keepAliveMs?: number;
  /** The stream's token is checked again this often, so a revoked token stops seeing the fleet; default 30 s. */
  reauthenticateMs?: number;
}

/** The page's static files: plain HTML, CSS and JS served as they are, nothing fetched from elsewhere. */
const assets: Record<string, { file: string; type: string }> = {
  "/fleet": { file: "fleet.html", type: "text/html; charset=utf-8" },
  "/fleet/app.js": { file: "fleet.js", type: "text/javascript; charset=utf-8" },
  "/fleet/app.css": { file: "fleet.css", type: "text/css; charset=utf-8" },
};

const securityHeaders = {
  // everything comes from this server; the page never talks to another origin
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

/**
 * The live fleet page: `GET /fleet` (the page), `POST /fleet/session` (checks the token the
 * page signed in with) and `GET /fleet/events` (a Server-Sent Events stream of fleet views,
 * read with fetch so the token travels in the Authorization header, never in a URL).
 */
export function fleetRoutes(context: RoutesContext, options: FleetRoutesOptions = {}): ExtraRoutes {
  const feed = new FleetFeed({
    store: context.store,
    liveness: context.liveness,
    clock: context.clock,
    intervalMs: options.pollIntervalMs,
    onError: (error) => context.logger.error({ err: error }, "fleet page: reading the fleet failed"),
  });
  const loaded = new Map<string, Buffer>();
  const asset = (file: string) => {
    let bytes = loaded.get(file);
    if (bytes === undefined) {
      bytes = readFileSync(new URL(`./assets/${file}`, import.meta.url));
      loaded.set(file, bytes);
    }
    return bytes;
  };
  const streams = new Set<ServerResponse>();

  async function handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    const known = assets[path === "/fleet/" ? "/fleet" : path];
    if (known !== undefined) {
      if (request.method !== "GET" && request.method !== "HEAD") return methodNotAllowed(response, "GET");
      response.writeHead(200, { "content-type": known.type, ...securityHeaders });
      response.end(request.method === "HEAD" ? undefined : asset(known.file));
      return true;
    }
    if (path === "/fleet/session") {
      if (request.method !== "POST") return methodNotAllowed(response, "POST");
      const user = await authenticate(context.store, request, response);
      if (user === undefined) return true;
      const scope = scopeOf(user);
      sendJson(response, 200, { user: { id: user.id, name: user.name, role: user.role }, summary: roleSummary(user.role), scope: scope.ownerId === undefined ? "fleet" : "own", jobs: scope.jobs });
      return true;
    }
    if (path === "/fleet/events") {
      if (request.method !== "GET") return methodNotAllowed(response, "GET");
      const user = await authenticate(context.store, request, response);
      if (user === undefined) return true;
      stream(request, response, user);
      return true;
    }
    return false;
  }

  function stream(request: IncomingMessage, response: ServerResponse, user: User): void {
    const token = bearerOf(request.headers.authorization)!;
    response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "x-accel-buffering": "no", ...securityHeaders });
    response.flushHeaders();
    streams.add(response);
    const send = (event: string, data: string) => response.write(`event: ${event}\ndata: ${data}\n\n`);
    const unsubscribe = feed.subscribe(scopeOf(user), (json) => send("overview", json));
    const keepAlive = setInterval(() => response.write(": keep-alive\n\n"), options.keepAliveMs ?? 15_000);
    const recheck = setInterval(() => {
      void context.store.tokens.authenticate(token).then(
        (again) => {
          if (again !== null && again.role === user.role) return;
          send("signed-out", JSON.stringify({ reason: "the token was revoked or expired, or its user's role changed; sign in again" }));
          response.end();
        },
        (error: unknown) => context.logger.warn({ err: error }, "fleet page: checking a stream's token failed"),
      );
    }, options.reauthenticateMs ?? 30_000);
    const stop = () => {
      unsubscribe();
      clearInterval(keepAlive);
      clearInterval(recheck);
      streams.delete(response);
    };
    response.on("close", stop);
  }

  return {
    handle,
    async close() {
      feed.close();
      for (const response of streams) response.end();
    },
  };
}

/** The token's user, or undefined after answering 401. */
async function authenticate(store: Store, request: IncomingMessage, response: ServerResponse): Promise<User | undefined> {
  const token = bearerOf(request.headers.authorization);
  const user = token === undefined ? null : await store.tokens.authenticate(token);
  if (user !== null) return user;
  response.setHeader("www-authenticate", "Bearer");
  sendJson(response, 401, { error: token === undefined ? "no bearer token: send `Authorization: Bearer <token>`" : "the token is unknown, revoked or expired; ask an admin for a new one" });
  return undefined;
}

function methodNotAllowed(response: ServerResponse, allowed: string): true {
  response.setHeader("allow", allowed);
  sendJson(response, 405, { error: `method not allowed; use ${allowed}` });
  return true;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json", ...securityHeaders });
  response.end(JSON.stringify(body));
}
