import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { services } from "@devenv/testing";
import { afterAll, describe, expect, it } from "vitest";

const devenv = resolve(import.meta.dirname, "../../bin/devenv");
const stateDir = mkdtempSync(join(tmpdir(), "devenv-cli-cassandra-"));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

/** Runs the real CLI with its own state dir; resolves with its exit code and output. */
function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(devenv, ["--state-dir", stateDir, ...args], { encoding: "utf8", env: { ...process.env, DEVENV_DEBUG: "", ...env } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer().once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

describe("devenv cassandra: bad input gets one line and changes nothing", () => {
  it("rejects a port that is not a number", () => {
    const result = run(["cassandra", "start", "--port", "abc"]);
    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toBe(`devenv: option '--port <port>' argument 'abc' is invalid. --port must be an integer from 1 to 65535, got "abc" (see --help)\n`);
  });

  it("rejects an unknown flag", () => {
    expect(run(["cassandra", "stop", "--force"])).toMatchObject({ code: 2, stderr: "devenv: unknown option '--force' (see --help)\n" });
  });

  it("names a port that is taken", () => {
    const { contactPoint } = services().cassandra;
    const [address, port] = contactPoint.split(":");
    const result = run(["cassandra", "start", "--name", "clash", "--address", address!, "--port", port!]);
    expect(result).toMatchObject({ code: 1, stdout: "", stderr: `devenv: port ${port} on ${address} is already in use (wanted for CQL)\n` });
    expect(existsSync(join(stateDir, "cassandra", "clash"))).toBe(false);
  });

  it("says how to get Java when there is none", async () => {
    const result = run(["cassandra", "start", "--name", "nojava", "--port", String(await freePort())], { DEVENV_JAVA: "/nonexistent/java" });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      "devenv: Java not found at DEVENV_JAVA=/nonexistent/java: install openjdk-17-jdk-headless (or set DEVENV_JAVA to a Java 17 binary)\n",
    );
    expect(existsSync(join(stateDir, "cassandra", "nojava"))).toBe(false);
  });
});

describe("devenv cassandra status and stop of a node that never ran", () => {
  it("reports stopped, in words and in JSON", () => {
    expect(run(["cassandra", "status"])).toMatchObject({ code: 0, stdout: 'cassandra "dev": stopped\n', stderr: "" });
    const json = run(["cassandra", "status", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ state: "stopped", name: "dev", dataDir: join(stateDir, "cassandra", "dev") });
  });

  it("stops nothing and says so", () => {
    expect(run(["cassandra", "stop", "--name", "idle"])).toMatchObject({ code: 0, stdout: 'cassandra "idle" is not running\n' });
  });
});

describe("devenv cassandra fetch", () => {
  it("finds the jars the run's node already uses", () => {
    const result = run(["cassandra", "fetch", "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ downloaded: false });
  });
});
