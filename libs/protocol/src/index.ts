export * from "./version.ts";
export * from "./snapshot-manifest.ts";
