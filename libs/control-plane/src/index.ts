export * from "./control-plane.ts";
export * from "./config/index.ts";
export * from "./serve-until-signalled.ts";
