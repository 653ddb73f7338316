export * from "./agent-hub.ts";
export * from "./command-bus.ts";
export * from "./hub-backend.ts";
export * from "./hub-logger.ts";
export * from "./in-memory-backend.ts";
export * from "./store-command-bus.ts";
export * from "./store-hub-backend.ts";
export * from "./client-tunnel-relay.ts";
