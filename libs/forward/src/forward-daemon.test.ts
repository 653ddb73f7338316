import { connect, createServer, type Socket } from "node:net";
import type { ForwardRoute } from "@devenv/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { ForwardDaemon, type ForwardDaemonOptions, type ForwardLogEvent } from "./forward-daemon.ts";
import { connectClient, freeLoopbackPort, startNamedEchoServer, until, type NamedEchoServer } from "./testing/test-targets.ts";
import { startTunnelRelay, type TunnelRelay } from "./tunnel-relay.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function echo(name: string): Promise<NamedEchoServer> {
  const server = await startNamedEchoServer(name);
  cleanups.push(() => server.close());
  return server;
}

async function daemon(options: ForwardDaemonOptions): Promise<{ daemon: ForwardDaemon; port: number; events: ForwardLogEvent[] }> {
  const events: ForwardLogEvent[] = [];
  const forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, log: (event) => events.push(event), ...options });
  const { port } = await forward.listen();
  cleanups.push(() => forward.close());
  return { daemon: forward, port, events };
}

async function relay(targets: Record<string, NamedEchoServer>, token = "secret"): Promise<TunnelRelay> {
  const server = await startTunnelRelay({
    token,
    targetFor: (path) => {
      const target = targets[path.slice(1)];
      return target ? { host: "127.0.0.1", port: target.port } : undefined;
    },
  });
  cleanups.push(() => server.close());
  return server;
}

const direct = (server: { port: number }): ForwardRoute => ({ kind: "direct", host: "127.0.0.1", port: server.port });

describe("ForwardDaemon over a direct route", () => {
  it("pipes bytes both ways and counts them per route", async () => {
    const a = await echo("A");
    const { daemon: forward, port } = await daemon({ route: direct(a) });
    const client = connectClient(port);
    await client.waitFor("A\n");
    client.socket.write("hello");
    await client.waitFor("A\nhello");
    client.socket.end();
    await client.closed;
    await until(() => forward.status().active === 0, "the connection to close");
    const [counters] = forward.status().routes;
    expect(counters).toEqual({
      route: { kind: "direct", host: "127.0.0.1", port: a.port },
      current: true,
      active: 0,
      opened: 1,
      failed: 0,
      bytesFromClients: 5,
      bytesToClients: 7,
    });
  });

  it("sends new connections to the new route at once while an open one drains on the old", async () => {
    const [a, b] = [await echo("A"), await echo("B")];
    const { daemon: forward, port } = await daemon({ route: direct(a) });
    const before = connectClient(port);
    await before.waitFor("A\n");

    forward.setRoute(direct(b));
    const after = connectClient(port);
    await after.waitFor("B\n");
    // the connection made before the switch still talks to A
    before.socket.write("still-here");
    await before.waitFor("A\nstill-here");
    expect(a.open()).toBe(1);
    const status = forward.status();
    expect(status.route).toEqual(direct(b));
    expect(status.routes.map((r) => [r.route, r.current, r.active])).toEqual([
      [direct(a), false, 1],
      [direct(b), true, 1],
    ]);
    before.socket.end();
    await until(() => a.open() === 0, "A's connection to close");
    expect(after.socket.destroyed).toBe(false);
  });

  it("closes connections left on an old route when the drain deadline passes", async () => {
    const [a, b] = [await echo("A"), await echo("B")];
    const { daemon: forward, port, events } = await daemon({ route: direct(a), drainTimeoutMs: 200 });
    const old = connectClient(port);
    await old.waitFor("A\n");
    forward.setRoute(direct(b));
    const fresh = connectClient(port);
    await fresh.waitFor("B\n");
    await old.closed;
    expect(events).toContainEqual({ event: "drain-deadline", closed: 1 });
    fresh.socket.write("x");
    await fresh.waitFor("B\nx");
  });

  it("retries a target that is restarting and connects once it is back", async () => {
    const port = await freeLoopbackPort();
    const { daemon: forward, port: listen, events } = await daemon({ route: { kind: "direct", host: "127.0.0.1", port }, connectBackoffMs: 150 });
    const client = connectClient(listen);
    await until(() => events.some((e) => e.event === "connect-retry"), "a failed attempt");
    await echo("back").then((s) => s.close());
    const server = await startNamedEchoServer("back", port);
    cleanups.push(() => server.close());
    await client.waitFor("back\n");
    expect(forward.status().routes[0]).toMatchObject({ opened: 1, failed: 0 });
  });

  it("closes the client after a few failed attempts and counts the failure", async () => {
    const port = await freeLoopbackPort();
    const { daemon: forward, port: listen, events } = await daemon({
      route: { kind: "direct", host: "127.0.0.1", port },
      connectAttempts: 3,
      connectBackoffMs: 10,
    });
    const client = connectClient(listen);
    await client.closed;
    expect(client.received()).toBe("");
    expect(events.filter((e) => e.event === "connect-retry")).toHaveLength(2);
    expect(events.find((e) => e.event === "connect-failed")).toMatchObject({ attempts: 3 });
    expect(forward.status()).toMatchObject({ active: 0, routes: [{ opened: 0, failed: 1 }] });
  });

  it("closes clients at once while no route is set", async () => {
    const { daemon: forward, port } = await daemon({});
    const client = connectClient(port);
    await client.closed;
    expect(forward.status()).toMatchObject({ route: null, active: 0, routes: [] });
  });
});

describe("ForwardDaemon over a tunnel route", () => {
  it("relays bytes through one WebSocket per connection and switches between tunnels", async () => {
    const [a, b] = [await echo("A"), await echo("B")];
    const server = await relay({ a, b });
    const { daemon: forward, port } = await daemon({ route: { kind: "tunnel", url: `${server.url}/a`, token: "secret" } });
    const first = connectClient(port);
    await first.waitFor("A\n");
    first.socket.write("through the tunnel");
    await first.waitFor("A\nthrough the tunnel");
    expect(server.openTunnels()).toBe(1);

    forward.setRoute({ kind: "tunnel", url: `${server.url}/b`, token: "secret" });
    const second = connectClient(port);
    await second.waitFor("B\n");
    expect(server.openTunnels()).toBe(2);
    first.socket.write("!");
    await first.waitFor("through the tunnel!");

    // client end -> WebSocket close -> the relay's TCP connection ends too
    first.socket.end();
    await until(() => a.open() === 0 && server.openTunnels() === 1, "the tunnel to close");
    const status = forward.status();
    expect(status.route).toEqual({ kind: "tunnel", url: `${server.url}/b` });
    expect(JSON.stringify(status)).not.toContain("secret");
  });

  it("releases a tunnel as soon as its client closes (not after the linger time)", async () => {
    const a = await echo("A");
    const server = await relay({ a });
    const { daemon: forward, port } = await daemon({ route: { kind: "tunnel", url: `${server.url}/a`, token: "secret" } });
    for (const close of ["end", "destroy"] as const) {
      const client = connectClient(port);
      await client.waitFor("A\n");
      client.socket[close]();
      await until(() => forward.status().active === 0 && server.openTunnels() === 0, "the tunnel to close", 1_000);
    }
  });

  it("closes the client when the target behind the tunnel goes away", async () => {
    const a = await echo("A");
    const server = await relay({ a });
    const { port } = await daemon({ route: { kind: "tunnel", url: `${server.url}/a`, token: "secret" } });
    const client = connectClient(port);
    await client.waitFor("A\n");
    await a.close();
    await client.closed;
  });

  it("does not retry a refused token", async () => {
    const a = await echo("A");
    const server = await relay({ a });
    const { daemon: forward, port, events } = await daemon({ route: { kind: "tunnel", url: `${server.url}/a`, token: "wrong" } });
    const client = connectClient(port);
    await client.closed;
    expect(events.filter((e) => e.event === "connect-retry")).toEqual([]);
    expect(events.find((e) => e.event === "connect-failed")).toMatchObject({ attempts: 1, error: expect.stringContaining("HTTP 401") });
    expect(forward.status().routes[0]).toMatchObject({ failed: 1, opened: 0 });
  });

  it("probe() says whether a route answers", async () => {
    const a = await echo("A");
    const server = await relay({ a });
    const { daemon: forward } = await daemon({});
    await expect(forward.probe({ kind: "tunnel", url: `${server.url}/a`, token: "secret" })).resolves.toBeUndefined();
    await expect(forward.probe({ kind: "tunnel", url: `${server.url}/nowhere`, token: "secret" })).rejects.toThrow("HTTP 404");
    await expect(forward.probe({ kind: "direct", host: "127.0.0.1", port: await freeLoopbackPort() })).rejects.toThrow("ECONNREFUSED");
  });
});

describe("backpressure", () => {
  it.each(["direct", "tunnel"] as const)("holds back a fast client when the target does not read (%s): nothing piles up in the forward", async (kind) => {
    // a target that accepts and never reads
    const accepted: Socket[] = [];
    const stalled = createServer({ pauseOnConnect: true }, (socket) => accepted.push(socket));
    await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", () => resolve()));
    cleanups.push(async () => {
      for (const socket of accepted) socket.destroy();
      await new Promise((resolve) => stalled.close(resolve));
    });
    const stalledPort = (stalled.address() as { port: number }).port;
    const route: ForwardRoute =
      kind === "direct"
        ? { kind: "direct", host: "127.0.0.1", port: stalledPort }
        : { kind: "tunnel", url: `${(await relay({ stalled: { port: stalledPort } as NamedEchoServer })).url}/stalled`, token: "secret" };
    const { daemon: forward, port } = await daemon({ route });

    const client = connect({ host: "127.0.0.1", port });
    cleanups.push(async () => void client.destroy());
    await new Promise((resolve) => client.once("connect", resolve));
    const chunk = Buffer.alloc(1024 * 1024);
    const offered = 64 * 1024 * 1024;
    for (let sent = 0; sent < offered; sent += chunk.length) client.write(chunk);
    // wait until the data stops moving
    let last = -1;
    await until(() => {
      const now = forward.status().routes[0]!.bytesFromClients;
      const settled = now === last && now > 0;
      last = now;
      return settled;
    }, "the flow to stop", 20_000);
    // kernel buffers and a stream buffer or two take some, never the whole offer
    expect(last).toBeLessThan(24 * 1024 * 1024);
    expect(client.writableLength).toBeGreaterThan(offered - 24 * 1024 * 1024);
  });
});

describe("setRoute", () => {
  it("to the route already in use changes nothing: its connections are not drained", async () => {
    const a = await echo("A");
    const { daemon: forward, port, events } = await daemon({ route: direct(a), drainTimeoutMs: 50 });
    const client = connectClient(port);
    await client.waitFor("A\n");
    forward.setRoute(direct(a));
    await new Promise((resolve) => setTimeout(resolve, 200));
    client.socket.write("still open");
    await client.waitFor("A\nstill open");
    expect(events.filter((e) => e.event === "route-changed" || e.event === "drain-deadline")).toEqual([]);
  });
});
