import type { RequestListener } from "node:http";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";
import { appRouter, type AppRouter } from "./router.ts";
import { bearerOf, type ApiDeps } from "./trpc.ts";

/**
 * The API over these deps: the router (its type is what clients import) and a Node
 * request listener serving it under `basePath` (default `/trpc/`).
 */
export function createApiRouter(deps: ApiDeps, options: { basePath?: string; maxBodyBytes?: number } = {}): { router: AppRouter; handler: RequestListener } {
  const handler = createHTTPHandler({
    router: appRouter,
    basePath: options.basePath ?? "/trpc/",
    maxBodySize: options.maxBodyBytes ?? 1024 * 1024,
    // the client sends queries as POST (see client.ts); GET still works for curl
    allowMethodOverride: true,
    createContext: ({ req }) => ({ deps, bearer: bearerOf(req.headers.authorization) }),
  });
  return { router: appRouter, handler };
}
