import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createApiClient } from "@devenv/api";

const devenv = resolve(import.meta.dirname, "../../bin/devenv");

/** Starts `devenv server` and resolves with its URL and stdout once it listens. */
function startServer(dataDir: string) {
  return startServerWith(["--data-dir", dataDir, "--port", "0"]);
}

function startServerWith(args: string[]) {
  const child = spawn(devenv, ["server", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const listening = new Promise<string>((resolveUrl, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      const url = /"url":"(http:\/\/[^"]+)"/.exec(stderr)?.[1];
      if (url) resolveUrl(url);
    });
    void exited.then((code) => reject(new Error(`devenv server exited ${code}: ${stderr}`)));
    setTimeout(() => reject(new Error(`devenv server did not listen within 30 s: ${stderr}`)), 30_000).unref();
  });
  return { child, listening, exited, stdout: () => stdout };
}

describe("devenv server", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "devenv-server-"));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("starts on the embedded defaults, prints the admin token once, and stops cleanly on SIGTERM", async () => {
    const first = startServer(dataDir);
    const url = await first.listening;
    const token = /Admin token \(shown once, keep it safe\): (\S+)/.exec(first.stdout())?.[1];
    expect(token).toBeDefined();
    const whoami = await createApiClient({ url, token }).auth.whoami.query();
    expect(whoami.user).toMatchObject({ name: "admin", role: "admin" });
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    const second = startServer(dataDir);
    const again = await second.listening;
    expect((await createApiClient({ url: again, token }).auth.whoami.query()).user.role).toBe("admin");
    expect(second.stdout()).toBe("");
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  });
});

describe("devenv server --config", () => {
  const dir = mkdtempSync(join(tmpdir(), "devenv-server-config-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const env = { PATH: process.env.PATH, HOME: dir };

  function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(devenv, args, { encoding: "utf8", env: { ...env, ...extraEnv } }, (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });
  }

  it("reads the server's own config file, not the client's, and starts on it", async () => {
    const file = join(dir, "server.yaml");
    writeFileSync(file, ["dataDir: plane", "port: 0", "intervals: { maintenance: 0s }"].join("\n"));
    const server = startServerWith(["--config", file]);
    const url = await server.listening;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // paths in the file are relative to the file
    expect(existsSync(join(dir, "plane", "devenv.db"))).toBe(true);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });

  it("fails at start on a wrong setting, naming the file, line and field of each", async () => {
    const file = join(dir, "wrong.yaml");
    writeFileSync(file, ["dataDir: plane", "reaper:", "  ttl: 12x", "prot: 7070"].join("\n"));
    const result = await run(["server", "--config", file, "--port", "70000"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      [
        "devenv: flag --port: port: Too big: expected number to be <=65535",
        `${file}:3:8: reaper.ttl: expected a duration such as 90s, 15m, 2h or 14d (or a number of milliseconds)`,
        `${file}:4:1: prot: unknown key`,
        "",
      ].join("\n"),
    );
    const viaEnv = await run(["server", "check"], { DEVENV_SERVER_CONFIG: file });
    expect(viaEnv.code).toBe(2);
    expect(viaEnv.stderr).toContain(`${file}:3:8: reaper.ttl`);
  });

  it("prints the config file's JSON Schema, and checks a file printing the settings with secrets masked", async () => {
    const schema = await run(["server", "schema"]);
    expect(schema.code, schema.stderr).toBe(0);
    expect(JSON.parse(schema.stdout)).toMatchObject({ type: "object", additionalProperties: false, properties: { provisioners: { type: "object" }, reaper: { type: "object" } } });

    const example = resolve(import.meta.dirname, "../../../../examples/server.yaml");
    const check = await run(["server", "check", "--config", example, "--json"], { DEVENV_SLACK_SIGNING_SECRET: "slack-signing-secret" });
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).not.toContain("slack-signing-secret");
    expect(JSON.parse(check.stdout)).toMatchObject({ dataDir: "/var/lib/devenv", slack: { signingSecret: "********", teamId: "T0A1B2C3D" }, sourceOf: { dataDir: `${example}:1:10`, port: "default" } });
    const human = await run(["server", "check", "--port", "7071"]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^port +7071 +\[flag --port\]$/m);
  });
});
