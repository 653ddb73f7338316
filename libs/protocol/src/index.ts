export * from "./version.ts";
export * from "./snapshot-manifest.ts";
export * from "./agent-protocol.ts";
