export * from "./server-config.ts";
