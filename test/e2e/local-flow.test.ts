import type cassandra from "cassandra-driver";
import cassandraDriver from "cassandra-driver";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForwardDaemon } from "@devenv/forward";
import { generateDataset } from "@devenv/fixtures";
import { cassandraClient, services, uniqueName } from "@devenv/testing";
import { exampleShrink, jobResult, startTestControlPlane, stopTestControlPlane, tunnelUrl, until, type TestControlPlane } from "../harness/control-plane.ts";

// The main job on embedded defaults: production-like data → shrink job → a personal
// instance (an agent and its own Cassandra node on this machine) restored from the
// snapshot → queried through the forward's tunnel via the control plane.
const repo = resolve(import.meta.dirname, "../..");
const secret = "local-flow-secret-0123456789abcdef";

let dir: string;
let source: string;
let production: cassandra.Client;
let plane: TestControlPlane;
let forward: ForwardDaemon | undefined;
let browser: Browser | undefined;
const chromiumPath = process.env.DEVENV_CHROMIUM ?? "/usr/bin/chromium";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-local-flow-"));
  production = await cassandraClient();
  source = uniqueName("prod");
  await generateDataset(production, { keyspace: source, orgs: 6, leadsPerOrg: 10, days: 3, eventsPerDay: 5, asOf: "2026-11-20", seed: "flow", concurrency: 32 });
  plane = await startTestControlPlane({
    dataDir: join(dir, "control-plane"),
    port: 0,
    agentCommand: [join(repo, "apps/agent/bin/devenv-agent")],
    env: { DEVENV_SHRINK_SECRET: secret },
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await forward?.close();
  // ends every instance this test started: its agent and its Cassandra node
  await stopTestControlPlane(plane);
  await production?.execute(`DROP KEYSPACE IF EXISTS ${source}`);
  await production?.shutdown();
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("the main job on one machine", () => {
  it("shrinks production, starts a personal instance from the snapshot, and serves it through the tunnel", async () => {
    const { api, server, token } = plane;
    const { contactPoint, localDataCenter } = services().cassandra;
    const { job } = await api.snapshots.create.mutate({ shrink: exampleShrink(repo, contactPoint, localDataCenter, source, "2026-11-21T00:00:00Z") });
    const { snapshotId } = await jobResult<{ snapshotId: string }>(api, job.id, 120_000);
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
    const ready = await until("the instance to be ready", async () => {
      const shown = await api.instances.show.query({ id: instance.id });
      if (shown.instance.state === "failed") throw new Error(`instance failed: ${shown.instance.stateDetail}`);
      return shown.instance.state === "ready" && shown.instance.currentSnapshotId === snapshotId ? shown : undefined;
    }, 240_000);
    expect(ready.instance.hostPort).toBeGreaterThan(0);
    const row = page.locator(`[data-instance-id="${instance.id}"]`);
    await expect.poll(() => row.getByTestId("instance-state").first().textContent().then((t) => t?.trim()), { timeout: 15_000 }).toBe("ready");
    await page.screenshot({ path: join(repo, "test-results/local-flow/fleet-page-ready.png"), fullPage: true });

    // the developer's localhost port, routed through the control plane to the agent
    forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: tunnelUrl(server, "mine"), token } });
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
