export * from "./devenv-server-options.ts";
export * from "./server-config.ts";
