export * from "./control-plane.ts";
export * from "./config/index.ts";
