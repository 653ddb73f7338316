export * from "./version.ts";
export * from "./snapshot-manifest.ts";
export * from "./agent-protocol.ts";
export * from "./forward-control.ts";
export * from "./job-payloads.ts";
export * from "./api/index.ts";
