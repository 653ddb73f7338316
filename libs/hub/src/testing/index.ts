// Test helpers for suites that drive the hub: a hand-moved clock, a scripted agent, a hub on a free port.
export * from "./manual-clock.ts";
export * from "./test-agent.ts";
export * from "./hub-fixture.ts";
