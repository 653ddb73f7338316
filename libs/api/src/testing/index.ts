// Test helpers for suites outside this lib that run a control plane.
export * from "./recording-provisioner.ts";
