export * from "./errors.ts";
export * from "./model.ts";
export type * from "./store.ts";
export * from "./lifecycle/instance-lifecycle.ts";
export { openStore, parseStoreUrl, type OpenStoreOptions, type StoreLocation } from "./open-store.ts";
export { allPages, everyPage } from "./support/paging.ts";
