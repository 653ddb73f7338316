export * from "./control-plane.ts";
export * from "./settings.ts";
