export * from "./fleet-test-env.ts";
export * from "./spot-refusing-proxy.ts";
export * from "./recording-provisioner.ts";
