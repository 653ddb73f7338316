import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient } from "@devenv/api";
import { loadServerSettings, startControlPlane, type RunningControlPlane } from "@devenv/control-plane";
import { RecordingProvisioner } from "@devenv/fleet/testing";
import { uniqueName } from "@devenv/testing";

const devenv = resolve(import.meta.dirname, "../../bin/devenv");
const root = mkdtempSync(join(tmpdir(), "devenv-cli-login-"));
let plane: RunningControlPlane;
let token: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real CLI with a home of its own; DEVENV_* from the test's environment never leak in. */
function run(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(
      devenv,
      args,
      { encoding: "utf8", env: { PATH: process.env.PATH, HOME: home, XDG_CONFIG_HOME: join(home, "config"), DEVENV_STATE_DIR: join(home, "state"), ...env } },
      (error, stdout, stderr) => done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  const out = new PassThrough();
  let printed = "";
  out.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  const provisioner = new RecordingProvisioner();
  plane = await startControlPlane(loadServerSettings({ env: {}, flags: { dataDir: join(root, "plane"), port: 0 } }), {
    out,
    provisioners: { byKind: { local: provisioner }, forInstanceKind: () => provisioner },
    logger: pino({ level: "silent" }),
  });
  const admin = /Admin token \(shown once, keep it safe\): (\S+)/.exec(printed)![1]!;
  const created = await createApiClient({ url: plane.url, token: admin }).auth.users.create.mutate({ name: uniqueName("ada"), role: "developer" });
  token = created.token.plaintext;
});

afterAll(async () => {
  await plane?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("devenv login, logout and the config every API command reads", () => {
  it("fails every API command with one line naming devenv login when nobody logged in (exit 2)", async () => {
    const home = mkdtempSync(join(root, "home-"));
    for (const args of [["ls"], ["status", "--json"], ["up", "--no-wait"], ["snapshots", "ls"], ["jobs", "ls"], ["fleet"], ["use", "mine"]]) {
      const result = await run(home, args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(result.stderr, args.join(" ")).toMatch(/^devenv: .*devenv login --server URL --token T/);
      expect(result.stdout).toBe("");
    }
  });

  it("refuses a wrong token or a bad URL and writes nothing", async () => {
    const home = mkdtempSync(join(root, "home-"));
    const wrong = await run(home, ["login", "--server", plane.url, "--token", "dvt_wrong"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^devenv: the control plane refused the token .*run `devenv login` again\n$/);
    const badUrl = await run(home, ["login", "--server", "ftp://example.com", "--token", token]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain("--server must be an http:// or https:// URL");
    const missing = await run(home, ["login", "--server", plane.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--token");
    expect(existsSync(join(home, "config", "devenv", "config.json"))).toBe(false);
  });

  it("keeps server and token in $XDG_CONFIG_HOME/devenv/config.json (0600 in a 0700 dir), used by later commands, forgotten by logout", async () => {
    const home = mkdtempSync(join(root, "home-"));
    const login = await run(home, ["login", "--server", `${plane.url}/`, "--token", token, "--json"]);
    expect(login.code, login.stderr).toBe(0);
    const file = join(home, "config", "devenv", "config.json");
    expect(JSON.parse(login.stdout)).toMatchObject({ server: plane.url, user: { role: "developer" }, configFile: file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "config", "devenv")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ server: plane.url, token });

    const ls = await run(home, ["ls", "--json"]);
    expect(ls.code, ls.stderr).toBe(0);
    expect(JSON.parse(ls.stdout)).toEqual([]);
    const human = await run(home, ["ls"]);
    expect(human.stdout).toContain("you have no instances: `devenv up` starts one");

    const logout = await run(home, ["logout"]);
    expect(logout.code).toBe(0);
    expect(logout.stdout).toContain("logged out");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({});
    expect((await run(home, ["ls"])).code).toBe(2);
    expect((await run(home, ["logout"])).stdout).toContain("not logged in");
  });

  it("lets DEVENV_SERVER and DEVENV_TOKEN stand in for the config file, and says when the server cannot be reached (exit 1)", async () => {
    const home = mkdtempSync(join(root, "home-"));
    const viaEnv = await run(home, ["ls", "--json"], { DEVENV_SERVER: plane.url, DEVENV_TOKEN: token });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toEqual([]);
    const down = await run(home, ["ls"], { DEVENV_SERVER: "http://127.0.0.1:9", DEVENV_TOKEN: token });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^devenv: cannot reach the control plane at http:\/\/127\.0\.0\.1:9/);
    const badEnv = await run(home, ["ls"], { DEVENV_SERVER: "not a url", DEVENV_TOKEN: token });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toContain("devenv: env DEVENV_SERVER: server: expected an http:// or https:// URL of the control plane");
  });
});
