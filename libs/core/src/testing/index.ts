// Test helpers: a clock tests move by hand.
export * from "./manual-clock.ts";
