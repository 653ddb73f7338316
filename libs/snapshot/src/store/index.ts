export { assertValidKey, assertValidPrefix, BlobNotFoundError, compareKeys, InvalidKeyError } from "./blob-store.ts";
export type { BlobStore } from "./blob-store.ts";
export { LocalDirStore } from "./local-store.ts";
export { openStore } from "./open-store.ts";
export type { OpenStoreOptions } from "./open-store.ts";
export { S3Store } from "./s3-store.ts";
export type { S3StoreOptions } from "./s3-store.ts";
export { HttpSnapshotStore } from "./http-store.ts";
export type { HttpSnapshotStoreOptions } from "./http-store.ts";
