import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, startCassandraNode, stopCassandraNode } from "@devenv/cassandra-node";
import type { ForwardRoute } from "@devenv/protocol";
import { services, uniqueName } from "@devenv/testing";
import cassandra from "cassandra-driver";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ForwardControl } from "./forward-control.ts";
import { runForwardService, type RunningForwardService } from "./forward-service.ts";
import { parseHostPort } from "./routes.ts";
import { until } from "./testing/test-targets.ts";
import { startTunnelRelay, type TunnelRelay } from "./tunnel-relay.ts";

/**
 * Two real Cassandra nodes, each with the same keyspace and table holding a different
 * row: a query through the forward says which node it reached.
 */
const keyspace = uniqueName("forward");
const token = "tunnel-token";
const root = mkdtempSync(join(tmpdir(), "devenv-forward-cassandra-"));
const nodeBDir = join(root, "node-b");
let localDataCenter: string;
let nodes: { A: { host: string; port: number }; B: { host: string; port: number } };
let relay: TunnelRelay;

beforeAll(async () => {
  const run = services().cassandra;
  localDataCenter = run.localDataCenter;
  // the run provides one node; the second is ours, kept small for a 2-core machine
  const nodeB = await startCassandraNode({ name: "forward-b", dataDir: nodeBDir, nativePort: await freePort("127.0.0.1"), heap: "512M" }, { deadlineMs: 240_000 });
  nodes = { A: parseHostPort(run.contactPoint, "the run's Cassandra"), B: parseHostPort(nodeB.contactPoint, "node B") };
  for (const [name, node] of Object.entries(nodes)) {
    const client = new cassandra.Client({ contactPoints: [`${node.host}:${node.port}`], localDataCenter });
    await client.connect();
    await client.execute(`CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
    await client.execute(`CREATE TABLE ${keyspace}.origin (k int PRIMARY KEY, node text)`);
    await client.execute(`INSERT INTO ${keyspace}.origin (k, node) VALUES (1, ?)`, [name], { prepare: true });
    await client.shutdown();
  }
  relay = await startTunnelRelay({
    token,
    targetFor: (path) => (path === "/a" ? nodes.A : path === "/b" ? nodes.B : undefined),
  });
}, 300_000);

afterAll(async () => {
  await relay?.close();
  const client = new cassandra.Client({ contactPoints: [services().cassandra.contactPoint], localDataCenter });
  await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`).finally(() => client.shutdown());
  await stopCassandraNode(nodeBDir, { deadlineMs: 60_000 });
  rmSync(root, { recursive: true, force: true });
}, 120_000);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const direct = (name: "A" | "B"): ForwardRoute => ({ kind: "direct", ...nodes[name] });
const tunnel = (name: "A" | "B"): ForwardRoute => ({ kind: "tunnel", url: `${relay.url}/${name.toLowerCase()}`, token });

async function forward(drainTimeoutMs: number | null = null): Promise<{ service: RunningForwardService; control: ForwardControl }> {
  const stateDir = mkdtempSync(join(root, "state-"));
  const service = await runForwardService({ stateDir, listen: { host: "127.0.0.1", port: 0 }, drainTimeoutMs });
  cleanups.push(() => service.stop());
  return { service, control: new ForwardControl(service.paths.socketPath) };
}

async function connectThrough(port: number): Promise<cassandra.Client> {
  const client = new cassandra.Client({
    contactPoints: [`127.0.0.1:${port}`],
    localDataCenter,
    // after a forced reconnect, come back quickly
    policies: { reconnection: new cassandra.policies.reconnection.ConstantReconnectionPolicy(200) },
  });
  await client.connect();
  return client;
}

async function whichNode(client: cassandra.Client): Promise<string> {
  const result = await client.execute(`SELECT node FROM ${keyspace}.origin WHERE k = 1`, [], { prepare: true });
  return String(result.first()?.get("node"));
}

/** A fresh client (the driver pools its connections, so a new client means new connections). */
async function freshQuery(port: number): Promise<string> {
  const client = await connectThrough(port);
  try {
    return await whichNode(client);
  } finally {
    await client.shutdown();
  }
}

describe.each([
  ["direct", direct],
  ["tunnel", tunnel],
] as const)("a cassandra-driver client on the forward, %s transport", (_kind, route) => {
  it("reaches the node of the current route; a switch applies to new connections while open ones drain", async () => {
    const { service, control } = await forward();
    const port = service.listen.port;
    await control.use(route("A"));
    expect(await freshQuery(port)).toBe("A");
    const longLived = await connectThrough(port);
    cleanups.push(() => longLived.shutdown());
    expect(await whichNode(longLived)).toBe("A");

    await control.use(route("B"));
    expect(await freshQuery(port)).toBe("B");
    // the pooled connections made before the switch still reach A
    expect(await whichNode(longLived)).toBe("A");
    const status = await control.status();
    const onA = status.routes.find((r) => !r.current);
    expect(onA?.active).toBeGreaterThan(0);
    expect(status.routes.find((r) => r.current)).toMatchObject({ opened: expect.any(Number), failed: 0 });

    await control.use(route("A"));
    expect(await freshQuery(port)).toBe("A");
    await longLived.shutdown();
    await until(() => service.daemon.status().active === 0, "every connection to close", 10_000);
    const counted = service.daemon.status().routes;
    expect(counted.every((r) => r.bytesFromClients > 0 && r.bytesToClients > 0)).toBe(true);
  });
});

describe("switching under a long-lived client", () => {
  it("the client keeps working: after the drain deadline it reconnects to the new route", async () => {
    const { service, control } = await forward(500);
    await control.use(direct("A"));
    const client = await connectThrough(service.listen.port);
    cleanups.push(() => client.shutdown());
    expect(await whichNode(client)).toBe("A");

    await control.use(tunnel("B"));
    const seen: string[] = [];
    const deadline = performance.now() + 30_000;
    while (seen.at(-1) !== "B" && performance.now() < deadline) {
      // queries may fail for a moment while the driver reconnects: that is the switch, not a bug
      seen.push(await whichNode(client).catch(() => "reconnecting"));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.at(-1)).toBe("B");
    expect(new Set(seen)).toSatisfy((values: Set<string>) => [...values].every((v) => ["A", "reconnecting", "B"].includes(v)));
    // and it stays on B
    for (let i = 0; i < 5; i += 1) expect(await whichNode(client)).toBe("B");
  });
});

describe("devenv use through the CLI binary", () => {
  const devenv = resolve(import.meta.dirname, "../../../apps/cli/bin/devenv");
  function cli(stateDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(devenv, ["--state-dir", stateDir, ...args], { env: { ...process.env, DEVENV_TOKEN: token } }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  it("switches a background forward between the two nodes over both transports", async () => {
    const stateDir = mkdtempSync(join(root, "cli-"));
    const port = await freePort("127.0.0.1");
    cleanups.push(() => cli(stateDir, ["forward", "stop"]));
    expect(await cli(stateDir, ["forward", "start", "--listen", `127.0.0.1:${port}`])).toMatchObject({ code: 0, stderr: "" });
    const steps: [string, string][] = [
      [`direct:${nodes.A.host}:${nodes.A.port}`, "A"],
      [`tunnel:${relay.url}/b`, "B"],
      [`tunnel:${relay.url}/a`, "A"],
      [`direct:${nodes.B.host}:${nodes.B.port}`, "B"],
    ];
    for (const [target, node] of steps) {
      expect(await cli(stateDir, ["use", target])).toMatchObject({ code: 0, stderr: "" });
      expect(await freshQuery(port)).toBe(node);
    }
    expect(await cli(stateDir, ["forward", "stop"])).toMatchObject({ code: 0 });
  });
});
