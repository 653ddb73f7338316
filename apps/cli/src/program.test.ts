import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const devenv = resolve(import.meta.dirname, "../bin/devenv");
const home = mkdtempSync(join(tmpdir(), "devenv-cli-program-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(devenv, args, { encoding: "utf8", env: { PATH: process.env.PATH, HOME: home } }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("devenv's options", () => {
  it("refuses an option the command does not take, with one line and exit code 2", async () => {
    for (const args of [["server", "--bogus"], ["status", "--bogus"], ["snapshots", "ls", "--bogus", "1"]]) {
      const result = await run(args);
      expect(result.code, args.join(" ")).toBe(2);
      expect(result.stderr, args.join(" ")).toBe("devenv: unknown option '--bogus' (see --help)\n");
      expect(result.stdout).toBe("");
    }
  });

  it("takes global options before the command, and says so when one comes after it", async () => {
    const client = join(home, "client.json");
    writeFileSync(client, `{\n  "server": "ftp://devenv.example.com"\n}\n`);
    const before = await run(["--config", client, "status"]);
    expect(before.code).toBe(2);
    expect(before.stderr).toBe(`devenv: ${client}:2:13: server: expected an http:// or https:// URL of the control plane\n`);
    const after = await run(["status", "--config", client]);
    expect(after.code).toBe(2);
    expect(after.stderr).toBe("devenv: unknown option '--config' for this command; --config is a global option: give it before the command (devenv --config … COMMAND)\n");
  });
});
