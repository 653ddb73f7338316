import { describe, expect, it } from "vitest";
import { devenvServerOptionsFrom } from "./devenv-server-options.ts";
import { loadServerSettings } from "./server-config.ts";

describe("devenvServerOptionsFrom", () => {
  it("hands today's server the settings it has options for", () => {
    const settings = loadServerSettings({
      env: { HOME: "/home/dev", DEVENV_BLOBS: "s3://snapshots/dev", DEVENV_S3_ENDPOINT: "http://127.0.0.1:5000", AWS_REGION: "eu-west-1", DEVENV_PORT: "0" },
    });
    const options = devenvServerOptionsFrom(settings, { agentCommand: ["/opt/devenv-agent"], env: {} });
    expect(options).toMatchObject({
      dataDir: "/home/dev/.local/share/devenv/control-plane",
      port: 0,
      host: "127.0.0.1",
      blobs: { kind: "s3", bucket: "snapshots", prefix: "dev", client: { region: "eu-west-1", endpoint: "http://127.0.0.1:5000", forcePathStyle: true } },
      agentCommand: ["/opt/devenv-agent"],
      jobConcurrency: 1,
      taskConcurrency: 2,
      jobPollMs: 1_000,
      rolloutTimeoutMs: 7_200_000,
      heartbeatIntervalMs: 10_000,
      maintenanceIntervalMs: 60_000,
      schedulerIntervalMs: 15_000,
      agentSupervisionIntervalMs: 2_000,
    });
    expect(devenvServerOptionsFrom(loadServerSettings({ env: { HOME: "/h" } }), { agentCommand: [], env: {} }).blobs).toEqual({ kind: "local", dir: "/h/.local/share/devenv/control-plane/blobs" });
  });
});
