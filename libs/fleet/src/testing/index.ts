export * from "./fleet-test-env.ts";
export * from "./spot-refusing-proxy.ts";
