import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

describe("control-plane config", () => {
  const dir = mkdtempSync(join(tmpdir(), "devenv-control-plane-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("has zero-config defaults: a data dir under the user's home, port 7070 on loopback", () => {
    expect(loadConfig({ HOME: "/home/dev" }, [])).toMatchObject({
      dataDir: "/home/dev/.local/share/devenv/control-plane",
      port: 7070,
      host: "127.0.0.1",
      databaseUrl: undefined,
      blobs: { kind: "local", dir: "/home/dev/.local/share/devenv/control-plane/blobs" },
    });
  });

  it("flags win over DEVENV_* env, which wins over the config file of --config or DEVENV_SERVER_CONFIG", () => {
    const file = join(dir, "server.yaml");
    writeFileSync(file, "dataDir: /file/data\nport: 6060\nhost: 10.0.0.1\n");
    const env = { HOME: "/h", DEVENV_PORT: "8080", DEVENV_DATABASE_URL: "postgres://cp@db/devenv" };
    expect(loadConfig(env, ["--config", file, "--port", "9090"])).toMatchObject({ dataDir: "/file/data", port: 9090, host: "10.0.0.1", databaseUrl: "postgres://cp@db/devenv" });
    expect(loadConfig({ ...env, DEVENV_SERVER_CONFIG: file, DEVENV_DATA_DIR: "/env/data" }, ["--host", "0.0.0.0"])).toMatchObject({ dataDir: "/env/data", port: 8080, host: "0.0.0.0" });
  });

  it("errors name the field and where it came from", () => {
    expect(() => loadConfig({ HOME: "/h", DEVENV_PORT: "http" }, [])).toThrow(/^env DEVENV_PORT: port: /);
    expect(() => loadConfig({ HOME: "/h" }, ["--port", "70000"])).toThrow(/^flag --port: port: /);
    expect(() => loadConfig({ HOME: "/h" }, ["--database-url", "mysql://x"])).toThrow(/^flag --database-url: databaseUrl: store url mysql:\/\/x: only sqlite: and postgres:\/\//);
    expect(() => loadConfig({ HOME: "/h", DEVENV_URL_SIGNING_KEY: "short" }, [])).toThrow("env DEVENV_URL_SIGNING_KEY: urlSigningKey: expected at least 64 hex digits");
    const file = join(dir, "wrong.yaml");
    writeFileSync(file, "jobs:\n  concurrency: many\n");
    expect(() => loadConfig({ HOME: "/h" }, ["--config", file])).toThrow(`${file}:2:16: jobs.concurrency: Invalid input: expected number, received string`);
    expect(() => loadConfig({ HOME: "/h" }, ["--bogus"])).toThrow(/bogus/);
  });
});
