import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ForwardStateFile } from "@devenv/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { ForwardControl } from "./forward-control.ts";
import { runForwardService, type RunningForwardService } from "./forward-service.ts";
import { forwardPaths } from "./state-files.ts";
import { connectClient, freeLoopbackPort, startNamedEchoServer, type NamedEchoServer } from "./testing/test-targets.ts";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "devenv-forward-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "state");
}

async function service(dir: string, drainTimeoutMs?: number | null): Promise<RunningForwardService> {
  const running = await runForwardService({ stateDir: dir, listen: { host: "127.0.0.1", port: 0 }, drainTimeoutMs });
  cleanups.push(() => running.stop());
  return running;
}

async function echo(name: string): Promise<NamedEchoServer> {
  const server = await startNamedEchoServer(name);
  cleanups.push(() => server.close());
  return server;
}

/** Sends raw lines to the control socket and returns the answer lines. */
function rawControl(socketPath: string, text: string, lines: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let received = "";
    socket.setEncoding("utf8");
    socket.on("error", reject);
    socket.on("connect", () => socket.write(text));
    socket.on("data", (chunk: string) => {
      received += chunk;
      const answers = received.split("\n").filter(Boolean);
      if (answers.length >= lines) {
        socket.destroy();
        resolve(answers.map((line) => JSON.parse(line) as unknown));
      }
    });
  });
}

describe("the forward service and its control socket", () => {
  it("answers status, use and stop, and keeps its socket private (0600 in a 0700 dir)", async () => {
    const dir = stateDir();
    const running = await service(dir);
    const paths = forwardPaths(dir);
    expect(statSync(paths.socketPath).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(paths.pidFile, "utf8").trim()).toBe(String(process.pid));

    const control = new ForwardControl(paths.socketPath);
    expect(await control.status()).toMatchObject({ pid: process.pid, route: null, listen: running.listen, active: 0, routes: [] });

    const a = await echo("A");
    const used = await control.use({ kind: "direct", host: "127.0.0.1", port: a.port });
    expect(used).toEqual({ type: "use", previous: null, route: { kind: "direct", host: "127.0.0.1", port: a.port } });
    const client = connectClient(running.listen.port);
    await client.waitFor("A\n");

    expect(await control.stop()).toEqual({ type: "stop", pid: process.pid });
    await running.stopped;
    await client.closed;
    await expect(control.status()).rejects.toMatchObject({ code: "not-running", message: "the forward is not running: `devenv forward start` starts it" });
  });

  it("brings the last route back after a restart, with the tunnel token kept in a 0600 state file", async () => {
    const dir = stateDir();
    const first = await service(dir, 1500);
    const route = { kind: "tunnel", url: "ws://127.0.0.1:1/instances/i-1", token: "tok-123" } as const;
    await new ForwardControl(first.paths.socketPath).use(route, { check: false });
    await first.stop();

    const saved = ForwardStateFile.parse(JSON.parse(readFileSync(first.paths.stateFile, "utf8")));
    expect(saved).toEqual({ version: 1, listen: first.listen, route, drainTimeoutMs: 1500 });
    expect(statSync(first.paths.stateFile).mode & 0o777).toBe(0o600);

    // no listen or drain given: both come back from the state file
    const second = await runForwardService({ stateDir: dir });
    cleanups.push(() => second.stop());
    expect(second.listen).toEqual(first.listen);
    const status = await new ForwardControl(second.paths.socketPath).status();
    expect(status).toMatchObject({ route: { kind: "tunnel", url: route.url }, drainTimeoutMs: 1500 });
    expect(status.route).not.toHaveProperty("token");
  });

  it("refuses a second forward on the same state dir", async () => {
    const dir = stateDir();
    await service(dir);
    await expect(runForwardService({ stateDir: dir, listen: { host: "127.0.0.1", port: 0 } })).rejects.toThrow(
      /^a forward is already running \(pid \d+, no route\); `devenv forward stop` stops it$/,
    );
  });

  it("says which address is taken", async () => {
    const taken = await echo("taken");
    await expect(runForwardService({ stateDir: stateDir(), listen: { host: "127.0.0.1", port: taken.port } })).rejects.toThrow(
      `127.0.0.1:${taken.port} is already in use: stop what listens there or pass --listen HOST:PORT`,
    );
  });

  it("keeps the route when a use request is invalid or its target does not answer", async () => {
    const dir = stateDir();
    const running = await service(dir);
    const control = new ForwardControl(running.paths.socketPath);
    const a = await echo("A");
    await control.use({ kind: "direct", host: "127.0.0.1", port: a.port });

    const dead = await freeLoopbackPort();
    await expect(control.use({ kind: "direct", host: "127.0.0.1", port: dead })).rejects.toMatchObject({
      code: "unreachable",
      message: `cannot connect to 127.0.0.1:${dead}: connect ECONNREFUSED 127.0.0.1:${dead}; the route is unchanged (--no-check switches anyway)`,
    });
    const answers = await rawControl(
      running.paths.socketPath,
      [
        "not json",
        JSON.stringify({ type: "use", route: { kind: "direct", host: "127.0.0.1", port: 70000 } }),
        JSON.stringify({ type: "use", route: { kind: "tunnel", url: "http://x/", token: "t" } }),
        JSON.stringify({ type: "reboot" }),
      ].join("\n") + "\n",
      4,
    );
    expect(answers).toEqual([
      { type: "error", code: "bad-request", message: "a request must be one JSON object per line" },
      { type: "error", code: "bad-request", message: expect.stringMatching(/^invalid request: route\.port: Too big/) },
      { type: "error", code: "bad-request", message: "invalid request: route.url: must be a ws:// or wss:// URL" },
      { type: "error", code: "bad-request", message: expect.stringMatching(/^invalid request: type: /) },
    ]);
    const status = await control.status();
    expect(status.route).toEqual({ kind: "direct", host: "127.0.0.1", port: a.port });
    expect(ForwardStateFile.parse(JSON.parse(readFileSync(running.paths.stateFile, "utf8"))).route).toEqual(status.route);
  });
});
