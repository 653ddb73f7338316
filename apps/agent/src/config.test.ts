import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

describe("agent config", () => {
  const dir = mkdtempSync(join(tmpdir(), "devenv-agent-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "agent.json");
  writeFileSync(
    file,
    JSON.stringify({ controlPlaneUrl: "ws://file.example/agent", stateDir: "/var/lib/devenv-agent", cassandraContactPoint: "127.0.0.1:9042", dataVolume: "/var/lib/cassandra", provider: "ec2", joinTokenFile: join(dir, "token") }),
  );
  writeFileSync(join(dir, "token"), "jt_from_file\n");

  it("takes flags over env over the config file, and reads the join token file", () => {
    const config = loadConfig({ DEVENV_AGENT_CONFIG: file, DEVENV_AGENT_CONTROL_PLANE_URL: "ws://env.example/agent", DEVENV_AGENT_PROVIDER: "static" }, ["--provider", "local"]);
    expect(config).toMatchObject({ controlPlaneUrl: "ws://env.example/agent", provider: "local", stateDir: "/var/lib/devenv-agent", joinToken: "jt_from_file", loadPath: "auto" });
  });

  it("names the field and its source when a value is wrong or missing", () => {
    expect(() => loadConfig({ DEVENV_AGENT_CONFIG: file }, ["--control-plane-url", "http://wrong"])).toThrow(/^flag --control-plane-url: controlPlaneUrl: expected a ws:\/\/ or wss:\/\/ URL/);
    expect(() => loadConfig({ DEVENV_AGENT_CONFIG: join(dir, "absent.json") }, [])).toThrow(/config file not found/);
    expect(() => loadConfig({}, ["--config", join(dir, "absent.json")])).toThrow(/config file not found/);
    expect(() => loadConfig({ DEVENV_AGENT_CONFIG: file, DEVENV_AGENT_CASSANDRA_CONTACT_POINT: "a b" }, [])).toThrow(/^env DEVENV_AGENT_CASSANDRA_CONTACT_POINT: cassandraContactPoint: expected HOST:PORT$/);
    expect(() => loadConfig({}, ["--provider", "local", "--state-dir", "/x"], )).toThrow(/^not set: controlPlaneUrl: missing: give --control-plane-url, DEVENV_AGENT_CONTROL_PLANE_URL or "controlPlaneUrl" in \/etc\/devenv\/agent.json$/m);
    expect(() => loadConfig({}, ["--nope", "1"])).toThrow(/--nope/);
  });

  it("reads a YAML config file too, and names the line of a wrong value in it", () => {
    const yaml = join(dir, "agent.yaml");
    const settings = ["controlPlaneUrl: ws://file.example/agent", "stateDir: /var/lib/devenv-agent", "cassandraContactPoint: 127.0.0.1:9042", "dataVolume: /var/lib/cassandra", "provider: ec2"];
    writeFileSync(yaml, [...settings, "restoreChunkConcurrency: 500", "spotPolInterval: 1000"].join("\n"));
    expect(() => loadConfig({}, ["--config", yaml])).toThrow(
      [`${yaml}:6:26: restoreChunkConcurrency: Too big: expected number to be <=64`, `${yaml}:7:1: spotPolInterval: unknown key`].join("\n"),
    );
    writeFileSync(yaml, [...settings, "restoreChunkConcurrency: 500"].join("\n"));
    expect(loadConfig({}, ["--config", yaml, "--restore-chunk-concurrency", "8", "--join-token", "jt"])).toMatchObject({ provider: "ec2", restoreChunkConcurrency: 8, joinToken: "jt" });
  });
});
