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
    expect(() => loadConfig({ DEVENV_AGENT_CONFIG: file }, ["--control-plane-url", "http://wrong"])).toThrow(/invalid controlPlaneUrl \(flag --control-plane-url\)/);
    expect(() => loadConfig({ DEVENV_AGENT_CONFIG: join(dir, "absent.json") }, [])).toThrow(/config file not found/);
    expect(() => loadConfig({}, ["--config", join(dir, "absent.json")])).toThrow(/config file not found/);
    expect(() => loadConfig({ DEVENV_AGENT_CONFIG: file, DEVENV_AGENT_CASSANDRA_CONTACT_POINT: "a b" }, [])).toThrow(/invalid cassandraContactPoint \(env DEVENV_AGENT_CASSANDRA_CONTACT_POINT\)/);
    expect(() => loadConfig({}, ["--provider", "local", "--state-dir", "/x"], )).toThrow(/invalid controlPlaneUrl \(not set: give --control-plane-url, DEVENV_AGENT_CONTROL_PLANE_URL/);
    expect(() => loadConfig({}, ["--nope", "1"])).toThrow(/--nope/);
  });
});
