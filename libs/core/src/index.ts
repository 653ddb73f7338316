export * from "./config/index.ts";
export * from "./clock.ts";
export * from "./retry.ts";
export * from "./coded-error.ts";
