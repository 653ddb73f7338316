import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createApiClient } from "@devenv/api";

const devenv = resolve(import.meta.dirname, "../../bin/devenv");

/** Starts `devenv server` and resolves with its URL and stdout once it listens. */
function startServer(dataDir: string) {
  const child = spawn(devenv, ["server", "--data-dir", dataDir, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
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
