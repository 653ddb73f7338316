import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

describe("control-plane config", () => {
  it("has zero-config defaults: a data dir under the user's home, port 7070 on loopback", () => {
    expect(loadConfig({ HOME: "/home/dev" }, [])).toEqual({ dataDir: "/home/dev/.local/share/devenv/control-plane", port: 7070, host: "127.0.0.1" });
  });

  it("flags win over DEVENV_* env", () => {
    const env = { HOME: "/h", DEVENV_DATA_DIR: "/env/data", DEVENV_PORT: "8080", DEVENV_DATABASE_URL: "postgres://cp@db/devenv" };
    expect(loadConfig(env, ["--port", "9090", "--host", "0.0.0.0"])).toEqual({ dataDir: "/env/data", port: 9090, host: "0.0.0.0", databaseUrl: "postgres://cp@db/devenv" });
  });

  it("errors name the field and where it came from", () => {
    expect(() => loadConfig({ HOME: "/h", DEVENV_PORT: "http" }, [])).toThrow(/port \(env DEVENV_PORT\)/);
    expect(() => loadConfig({ HOME: "/h" }, ["--port", "70000"])).toThrow(/port \(flag --port\)/);
    expect(() => loadConfig({ HOME: "/h" }, ["--database-url", "mysql://x"])).toThrow(/databaseUrl \(flag --database-url\)/);
    expect(() => loadConfig({ HOME: "/h", DEVENV_URL_SIGNING_KEY: "short" }, [])).toThrow(/urlSigningKey \(env DEVENV_URL_SIGNING_KEY\)/);
    expect(() => loadConfig({ HOME: "/h" }, ["--bogus"])).toThrow(/bogus/);
  });
});
