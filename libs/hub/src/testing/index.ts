// Test helpers for suites that drive the hub: a scripted agent, a hub on a free port.
export * from "./test-agent.ts";
export * from "./hub-fixture.ts";
