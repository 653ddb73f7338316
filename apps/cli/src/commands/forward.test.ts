import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const devenv = resolve(import.meta.dirname, "../../bin/devenv");
const root = mkdtempSync(join(tmpdir(), "devenv-cli-forward-"));
const servers: Server[] = [];
const stateDirs: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI with its own state dir (asynchronously: the test's own servers must keep answering). */
function run(stateDir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolveRun) => {
    execFile(
      devenv,
      ["--state-dir", stateDir, ...args],
      { encoding: "utf8", env: { ...process.env, DEVENV_DEBUG: "", DEVENV_TOKEN: "", DEVENV_FORWARD_LISTEN: "", ...env } },
      (error, stdout, stderr) => resolveRun({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function newStateDir(name: string): string {
  const dir = join(root, name);
  stateDirs.push(dir);
  return dir;
}

/** A TCP server that greets each connection with its name, then echoes. */
async function namedServer(name: string): Promise<number> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.write(`${name}\n`);
    socket.pipe(socket);
  });
  servers.push(server);
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", () => ready()));
  return (server.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", () => ready()));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** Connects to the forward and resolves with the first line the target sends. */
function greeting(port: number): Promise<{ line: string; socket: Socket }> {
  return new Promise((resolveLine, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let text = "";
    socket.setEncoding("utf8");
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed after "${text}"`)));
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("\n")) resolveLine({ line: text.trim(), socket });
    });
  });
}

afterAll(async () => {
  for (const dir of stateDirs) await run(dir, ["forward", "stop"]);
  for (const server of servers) server.close();
  rmSync(root, { recursive: true, force: true });
});

describe("devenv forward and devenv use, through the CLI binary", () => {
  let a: number;
  let b: number;
  beforeAll(async () => {
    a = await namedServer("A");
    b = await namedServer("B");
  });

  it("starts, switches live, reports, stops, and comes back with its last route", async () => {
    const stateDir = newStateDir("cycle");
    const listen = await freePort();
    const started = await run(stateDir, ["forward", "start", "--listen", `127.0.0.1:${listen}`]);
    expect(started).toMatchObject({ code: 0, stderr: "" });
    expect(started.stdout).toMatch(new RegExp(`^forward running on 127\\.0\\.0\\.1:${listen} \\(pid \\d+\\) → no route yet`));
    expect(statSync(join(stateDir, "forward.sock")).mode & 0o777).toBe(0o600);

    expect(await run(stateDir, ["use", `direct:127.0.0.1:${a}`])).toEqual({ code: 0, stdout: `127.0.0.1:${listen} → direct:127.0.0.1:${a}\n`, stderr: "" });
    const onA = await greeting(listen);
    expect(onA.line).toBe("A");

    const switched = await run(stateDir, ["use", `direct:127.0.0.1:${b}`, "--json"]);
    expect(JSON.parse(switched.stdout)).toEqual({
      listen: { host: "127.0.0.1", port: listen },
      route: { kind: "direct", host: "127.0.0.1", port: b },
      previous: { kind: "direct", host: "127.0.0.1", port: a },
      startedForward: false,
    });
    expect((await greeting(listen)).line).toBe("B");

    // the connection made before the switch drains on A
    const status = JSON.parse((await run(stateDir, ["forward", "status", "--json"])).stdout);
    expect(status).toMatchObject({ state: "running", route: { kind: "direct", port: b } });
    expect(status.routes).toEqual([
      expect.objectContaining({ route: { kind: "direct", host: "127.0.0.1", port: a }, current: false, active: 1, opened: 1 }),
      expect.objectContaining({ route: { kind: "direct", host: "127.0.0.1", port: b }, current: true, opened: 1 }),
    ]);
    const human = await run(stateDir, ["forward", "status"]);
    expect(human.stdout).toContain(`forward: running on 127.0.0.1:${listen}`);
    expect(human.stdout).toContain(`route:   direct:127.0.0.1:${b}`);
    expect(human.stdout).toMatch(new RegExp(`\\* direct:127\\.0\\.0\\.1:${b} +1 +1 +0`));
    onA.socket.destroy();

    const stopped = await run(stateDir, ["forward", "stop"]);
    expect(stopped.stdout).toMatch(/^forward stopped \(pid \d+\)\n$/);
    expect(await run(stateDir, ["forward", "status"])).toMatchObject({
      code: 0,
      stdout: `forward: not running (last route direct:127.0.0.1:${b}; \`devenv forward start\` brings it back)\n`,
    });
    expect(await run(stateDir, ["forward", "stop"])).toMatchObject({ code: 0, stdout: "forward is not running\n" });

    // a restart without flags listens where it did and goes where it went
    const restarted = await run(stateDir, ["forward", "start"]);
    expect(restarted.stdout).toMatch(new RegExp(`^forward running on 127\\.0\\.0\\.1:${listen} \\(pid \\d+\\) → direct:127\\.0\\.0\\.1:${b}\n$`));
    expect((await greeting(listen)).line).toBe("B");
    expect((await run(stateDir, ["forward", "start"])).stdout).toMatch(/^forward already running on /);
  });

  it("rejects bad targets with one clear line and keeps the route", async () => {
    const stateDir = newStateDir("bad");
    const listen = await freePort();
    await run(stateDir, ["forward", "start", "--listen", `127.0.0.1:${listen}`]);
    await run(stateDir, ["use", `direct:127.0.0.1:${a}`]);
    const dead = await freePort();
    const cases: [string[], NodeJS.ProcessEnv, number, string][] = [
      [["use", "direct:db.internal"], {}, 2, 'devenv: a direct: target must be HOST:PORT with a port from 1 to 65535, got "db.internal"\n'],
      [["use", "tunnel:wss://cp.example.com/t"], {}, 2, "devenv: a tunnel: target needs a token: set DEVENV_TOKEN\n"],
      [["use", "tunnel:https://cp.example.com/t"], { DEVENV_TOKEN: "t" }, 2, 'devenv: a tunnel: target must be a ws:// or wss:// URL, got "https://cp.example.com/t"\n'],
      [["use", "what?"], {}, 2, 'devenv: unknown target "what?": use shared, mine, an instance id, direct:HOST:PORT or tunnel:wss://…\n'],
      [
        ["use", "shared"],
        {},
        2,
        'devenv: "shared" is looked up on the control plane: run `devenv login --server URL --token T` first (or use direct:HOST:PORT)\n',
      ],
      [
        ["use", `direct:127.0.0.1:${dead}`],
        {},
        1,
        `devenv: cannot connect to 127.0.0.1:${dead}: connect ECONNREFUSED 127.0.0.1:${dead}; the route is unchanged (--no-check switches anyway)\n`,
      ],
      [["use"], {}, 2, "devenv: missing required argument 'target' (see --help)\n"],
    ];
    for (const [args, env, code, stderr] of cases) {
      expect(await run(stateDir, args, env)).toEqual({ code, stdout: "", stderr });
    }
    const status = JSON.parse((await run(stateDir, ["forward", "status", "--json"])).stdout);
    expect(status.route).toEqual({ kind: "direct", host: "127.0.0.1", port: a });
    expect((await greeting(listen)).line).toBe("A");
  });

  it("use starts the forward when it is not running, but not for a target that does not answer", async () => {
    const stateDir = newStateDir("autostart");
    const listen = await freePort();
    const env = { DEVENV_FORWARD_LISTEN: `127.0.0.1:${listen}` };
    const dead = await freePort();
    expect(await run(stateDir, ["use", `direct:127.0.0.1:${dead}`], env)).toMatchObject({ code: 1, stdout: "" });
    expect((await run(stateDir, ["forward", "status"])).stdout).toBe("forward: not running\n");

    const used = await run(stateDir, ["use", `direct:127.0.0.1:${b}`], env);
    expect(used).toMatchObject({ code: 0, stderr: "" });
    expect(used.stdout).toMatch(new RegExp(`^forward started on 127\\.0\\.0\\.1:${listen} \\(pid \\d+\\)\n127\\.0\\.0\\.1:${listen} → direct:127\\.0\\.0\\.1:${b}\n$`));
    expect((await greeting(listen)).line).toBe("B");
  });

  it("says why the forward cannot start when its address is taken", async () => {
    const taken = await namedServer("taken");
    const result = await run(newStateDir("taken"), ["forward", "start", "--listen", `127.0.0.1:${taken}`]);
    expect(result).toEqual({
      code: 1,
      stdout: "",
      stderr: `devenv: the forward did not start: 127.0.0.1:${taken} is already in use: stop what listens there or pass --listen HOST:PORT\n`,
    });
  });

  it("documents every command with examples", async () => {
    const dir = newStateDir("help");
    for (const args of [["forward"], ["forward", "start"], ["forward", "stop"], ["forward", "status"], ["forward", "run"], ["use"]]) {
      const help = await run(dir, [...args, "--help"]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("Examples:");
    }
    expect((await run(dir, ["use", "--help"])).stdout).toContain("tunnel:wss://HOST/PATH          a WebSocket tunnel, token from DEVENV_TOKEN");
  });
});
