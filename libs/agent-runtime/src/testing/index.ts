// Test helpers for suites that drive a real agent: a hub, a snapshot server, an IMDS server, a NOTIFY_SOCKET.
export * from "./hub-server.ts";
export * from "./metadata-test-server.ts";
export * from "./notify-receiver.ts";
export * from "./snapshot-fixture.ts";
export * from "./snapshot-test-server.ts";
export * from "./wait-for.ts";
