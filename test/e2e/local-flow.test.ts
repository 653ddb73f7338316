import type cassandra from "cassandra-driver";
import cassandraDriver from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, startDevenvServer, type ApiClient, type RunningDevenvServer } from "@devenv/api";
import { ForwardDaemon } from "@devenv/forward";
import { generateDataset } from "@devenv/shrink";
import { cassandraClient, services, uniqueName } from "@devenv/testing";

// The main job on embedded defaults: production-like data → shrink job → a personal
// instance (an agent and its own Cassandra node on this machine) restored from the
// snapshot → queried through the forward's tunnel via the control plane.
const repo = resolve(import.meta.dirname, "../..");
const secret = "local-flow-secret-0123456789abcdef";

let dir: string;
let source: string;
let production: cassandra.Client;
let server: RunningDevenvServer;
let api: ApiClient;
let token: string;
let forward: ForwardDaemon | undefined;
let browser: Browser | undefined;
const chromiumPath = process.env.DEVENV_CHROMIUM ?? "/usr/bin/chromium";

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-local-flow-"));
  production = await cassandraClient();
  source = uniqueName("prod");
  await generateDataset(production, { keyspace: source, orgs: 6, leadsPerOrg: 10, days: 3, eventsPerDay: 5, asOf: "2026-11-20", seed: "flow", concurrency: 32 });
  const out = new PassThrough();
  let printed = "";
  out.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  server = await startDevenvServer({
    dataDir: join(dir, "control-plane"),
    port: 0,
    out,
    agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
    heartbeatIntervalMs: 1_000,
    maintenanceIntervalMs: 0,
    env: { DEVENV_SHRINK_SECRET: secret },
    logger: undefined,
  });
  token = /Admin token \(shown once, keep it safe\): (\S+)/.exec(printed)![1]!;
  api = createApiClient({ url: server.url, token });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await forward?.close();
  // ends every instance this test started: its agent and its Cassandra node
  if (api) {
    for (const instance of await api.instances.list.query({}).catch(() => [])) {
      if (instance.state !== "terminated") await api.instances.down.mutate({ id: instance.id }).catch(() => {});
    }
  }
  await server?.instances.settled();
  await server?.close();
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("the main job on one machine", () => {
  it("shrinks production, starts a personal instance from the snapshot, and serves it through the tunnel", async () => {
    const { contactPoint, localDataCenter } = services().cassandra;
    const { job } = await api.snapshots.create.mutate({
      shrink: { source: { contactPoints: [contactPoint], localDataCenter, keyspace: source }, rulesFile: join(repo, "examples/leads-rules.yaml"), asOf: "2026-11-21T00:00:00Z" },
    });
    const done = await until("the shrink job", async () => {
      const { job: current } = await api.jobs.show.query({ id: job.id });
      if (current.state === "failed") throw new Error(`shrink failed: ${current.error}`);
      return current.state === "succeeded" ? current : undefined;
    }, 120_000);
    const snapshotId = (done.result as { snapshotId: string }).snapshotId;
    // the whole server serves the ops page too
    const html = await fetch(`${server.url}/fleet`);
    expect(html.status).toBe(200);
    expect(html.headers.get("content-type")).toMatch(/text\/html/);
    const { snapshot } = await api.snapshots.show.query({ id: snapshotId });
    expect(snapshot.status).toBe("ready");

    // ops watch it happen on the fleet page, live, with the real agent reporting
    if (!existsSync(chromiumPath)) throw new Error(`no chromium at ${chromiumPath}: run npm run setup`);
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
    const page = await browser.newPage();
    await page.goto(`${server.url}/fleet`);
    await page.getByLabel("API token").fill(token);
    await page.getByRole("button", { name: "Sign in" }).click();

    const { instance } = await api.instances.up.mutate({ kind: "personal", snapshotId });
    const states = new Set<string>();
    const ready = await until("the instance to be ready", async () => {
      const shown = await api.instances.show.query({ id: instance.id });
      states.add(shown.instance.state);
      if (shown.instance.state === "failed") throw new Error(`instance failed: ${shown.instance.stateDetail}`);
      return shown.instance.state === "ready" && shown.instance.currentSnapshotId === snapshotId ? shown : undefined;
    }, 240_000);
    expect(ready.instance.hostPort).toBeGreaterThan(0);
    const row = page.locator(`[data-instance-id="${instance.id}"]`);
    await expect.poll(() => row.getByTestId("instance-state").first().textContent().then((t) => t?.trim()), { timeout: 15_000 }).toBe("ready");
    await page.screenshot({ path: join(repo, "test-results/local-flow/fleet-page-ready.png"), fullPage: true });

    // the developer's localhost port, routed through the control plane to the agent
    forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: `${server.url.replace(/^http/, "ws")}/tunnel/mine`, token } });
    const { port } = await forward.listen();
    const dev = new cassandraDriver.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: "datacenter1" });
    try {
      await dev.connect();
      const orgs = await dev.execute("SELECT kind FROM devenv.orgs");
      expect(orgs.rows.length).toBeGreaterThan(0);
      expect(orgs.rows.every((r) => r.get("kind") !== "customer")).toBe(true);
      const users = await dev.execute("SELECT email FROM devenv.users");
      expect(users.rows.every((r) => /@example\.(com|net|org)$/.test(String(r.get("email"))))).toBe(true);
    } finally {
      await dev.shutdown();
    }

    await api.instances.down.mutate({ id: instance.id });
    await until("the instance to end", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "terminated" ? true : undefined), 120_000);
  }, 480_000);
});
