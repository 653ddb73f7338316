export * from "./harness.ts";
export * from "./ops-server.ts";
export * from "./calls.ts";
