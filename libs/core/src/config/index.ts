export * from "./config-error.ts";
export * from "./config-file.ts";
export * from "./duration.ts";
export * from "./layered-config.ts";
export * from "./secret-ref.ts";
