export * from "./errors.ts";
export * from "./clock.ts";
export * from "./model.ts";
export type * from "./store.ts";
export * from "./lifecycle/instance-lifecycle.ts";
