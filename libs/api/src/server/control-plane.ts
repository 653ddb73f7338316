import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { pino, type Logger } from "pino";
import { LocalDirStore, S3Store, type BlobStore } from "@devenv/snapshot";
import { systemClock, type Clock } from "@devenv/core";
import { openStore, type Store } from "@devenv/store";
import { BlobEndpoint, blobPathPrefix } from "../blobs/blob-endpoint.ts";
import { S3Presigner, S3SnapshotAccess, s3Redirect } from "../blobs/s3-snapshot-access.ts";
import { LocalSnapshotAccess, type SnapshotAccess } from "../blobs/snapshot-access.ts";
import { loadSigningKey, UrlSigner } from "../blobs/url-signer.ts";
import { InstanceService } from "../instances/instance-service.ts";
import type { AgentCommandSender, Provisioner } from "../instances/provisioner.ts";
import type { ManagedHostDirectory } from "@devenv/fleet";
import { createApiRouter } from "../create-api-router.ts";
import type { ApiDeps } from "../trpc.ts";
import type { LivenessOf } from "../views.ts";
import { createMetrics } from "./metrics.ts";

/** Where snapshots live: a directory (default `<dataDir>/blobs`) or an S3 prefix. */
export type BlobsConfig = { kind: "local"; dir?: string } | { kind: "s3"; bucket: string; prefix?: string; client: S3ClientConfig };

/** What the lead's wiring (the agent hub) hands back when attached to the server. */
export interface ControlPlaneAttachment {
  /** Delivers assign commands to agents (AgentHub.sendCommand). */
  commands?: AgentCommandSender;
  /** The hub's judgement of agents' heartbeats, shown by fleet.overview. */
  liveness?: LivenessOf;
  close?(): Promise<void>;
}

export interface AttachContext {
  store: Store;
  /** Where snapshots are published and read. */
  blobs: BlobStore;
  instances: InstanceService;
  snapshotAccess: SnapshotAccess;
  logger: Logger;
  clock: Clock;
}

/** What extra routes see: the attach context plus the hub's liveness judgement (once attached). */
export interface RoutesContext extends AttachContext {
  liveness: LivenessOf;
}

/** More HTTP routes (the fleet page, Slack commands): `handle` answers true when it took the request. */
export interface ExtraRoutes {
  handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean>;
  /** Ends long-lived responses (event streams) and background work at shutdown. */
  close?(): Promise<void>;
}

export interface ControlPlaneOptions {
  dataDir: string;
  /** 0 picks a free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** PostgreSQL (`postgres://…`) or SQLite; default `<dataDir>/devenv.db`. */
  databaseUrl?: string;
  /** The base URL agents reach this server at, for signed blob URLs; default http://host:port. */
  publicUrl?: string;
  /** Hex key for signed blob URLs (every replica needs the same); default a key file in the data dir. */
  urlSigningKey?: string;
  blobs?: BlobsConfig;
  provisioner?: Provisioner;
  clock?: Clock;
  /** JSON logs; default pino to stderr (stdout carries only the first-run admin token). */
  logger?: Logger;
  /** Where the first-run admin token is printed; default stdout. */
  out?: NodeJS.WritableStream;
  /** Largest request body the API reads (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
  /**
   * Runs once the server exists and before it listens: attach the agent hub to its
   * `upgrade` requests here (`new AgentHub({ server, ... })`).
   */
  attach?: (server: Server, context: AttachContext) => Promise<ControlPlaneAttachment | void>;
  /** Built once the store exists, after `attach`; consulted before the 404. */
  extraRoutes?: (context: RoutesContext) => ExtraRoutes;
}

export interface RunningControlPlane {
  url: string;
  /** The admin token created on the first run (also printed once); undefined on later runs. */
  firstRunAdminToken: string | undefined;
  server: Server;
  store: Store;
  instances: InstanceService;
  /** Stops taking requests, lets requests in flight and background provisioning finish, closes the store. */
  close(): Promise<void>;
}

/** The control plane's HTTP process: the people's API under /trpc, health, readiness, metrics and signed blobs. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ base: { service: "devenv-control-plane" } }, pino.destination(2));
  const dataDir = resolve(options.dataDir);
  const store = await openStore({ url: options.databaseUrl ?? join(dataDir, "devenv.db"), clock });
  try {
    const admin = await store.tokens.bootstrapAdmin();
    if (admin !== null) {
      (options.out ?? process.stdout).write(
        `First run: created the admin user "${admin.user.name}".\nAdmin token (shown once, keep it safe): ${admin.plaintext}\n`,
      );
      logger.info({ userId: admin.user.id }, "first run: admin user created, its token printed on stdout");
    }

    const server = createServer();
    const signer = new UrlSigner(loadSigningKey({ file: join(dataDir, "secrets", "url-signing.key"), hexFromEnv: options.urlSigningKey }));
    // the public URL is known only once the port is; access objects read it lazily
    let publicUrl = options.publicUrl ?? "";
    const urls = { get publicUrl() { return publicUrl; }, signer, clock };
    const { blobs, snapshotAccess, endpoint } = openBlobs(options.blobs ?? { kind: "local" }, dataDir, urls, clock, signer);

    let attachment: ControlPlaneAttachment | void = undefined;
    const instances = new InstanceService({
      store,
      clock,
      provisioner: options.provisioner,
      snapshotAccess,
      commands: () => attachment?.commands,
      onBackgroundError: (what, instance, error) => logger.error({ err: error, instanceId: instance.id }, `instance ${what} failed`),
    });
    const deps: ApiDeps = {
      store,
      clock,
      instances,
      liveness: (agentId) => attachment?.liveness?.(agentId),
      hosts: options.provisioner && "listHosts" in options.provisioner ? (options.provisioner as Provisioner & ManagedHostDirectory) : undefined,
      onInternalError: (path, error) => logger.error({ err: error, path }, "internal error in an API call"),
    };
    const { handler: trpc } = createApiRouter(deps, { maxBodyBytes: options.maxBodyBytes });
    const metrics = createMetrics(store, clock.date());

    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
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
    });

    async function route(request: IncomingMessage, response: ServerResponse, path: string): Promise<void> {
      if (path.startsWith("/trpc/")) return trpc(request, response);
      if (path.startsWith(blobPathPrefix)) return endpoint.handle(request, response);
      if (path === "/healthz") return sendJson(response, 200, { ok: true });
      if (path === "/readyz") {
        try {
          await withTimeout(store.users.count(), 2_000);
          return sendJson(response, 200, { ok: true, store: store.dialect });
        } catch (error) {
          logger.warn({ err: error }, "not ready: the store does not answer");
          return sendJson(response, 503, { ok: false, store: store.dialect, error: "the store does not answer" });
        }
      }
      if (path === "/metrics") {
        const text = await metrics.metrics();
        response.writeHead(200, { "content-type": metrics.contentType });
        response.end(text);
        return;
      }
      if (extra !== undefined && (await extra.handle(request, response, path))) return;
      sendJson(response, 404, { error: `no such path: ${path}` });
    }

    const attachContext: AttachContext = { store, blobs, instances, snapshotAccess, logger, clock };
    attachment = await options.attach?.(server, attachContext);
    const extra = options.extraRoutes?.({ ...attachContext, liveness: (agentId) => attachment?.liveness?.(agentId) });
    await new Promise<void>((resolveListen, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolveListen();
      });
    });
    const address = server.address() as AddressInfo;
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
    const url = `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${address.port}`;
    publicUrl ||= url;
    logger.info({ url, dataDir, store: store.dialect }, "control plane listening");

    let closing: Promise<void> | undefined;
    const close = () =>
      (closing ??= (async () => {
        logger.info("control plane shutting down");
        const stopped = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await extra?.close?.();
        await attachment?.close?.();
        await instances.settled();
        // requests still open after a grace period are cut
        const grace = setTimeout(() => server.closeAllConnections(), 5_000);
        await stopped;
        clearTimeout(grace);
        await store.close();
        logger.info("control plane stopped");
      })());
    return { url, firstRunAdminToken: admin?.plaintext, server, store, instances, close };
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
}

function openBlobs(
  config: BlobsConfig,
  dataDir: string,
  urls: { readonly publicUrl: string; signer: UrlSigner; clock: Clock },
  clock: Clock,
  signer: UrlSigner,
): { blobs: BlobStore; snapshotAccess: SnapshotAccess; endpoint: BlobEndpoint } {
  switch (config.kind) {
    case "local": {
      const blobs = new LocalDirStore(resolve(config.dir ?? join(dataDir, "blobs")));
      return { blobs, snapshotAccess: new LocalSnapshotAccess(urls), endpoint: new BlobEndpoint({ signer, blobs, clock }) };
    }
    case "s3": {
      const client = new S3Client(config.client);
      const blobs = new S3Store({ client, bucket: config.bucket, prefix: config.prefix });
      const presigner = new S3Presigner({ client, bucket: config.bucket, prefix: config.prefix, clock });
      return {
        blobs,
        snapshotAccess: new S3SnapshotAccess(presigner, urls),
        endpoint: new BlobEndpoint({ signer, blobs, clock, redirect: s3Redirect(presigner) }),
      };
    }
  }
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
