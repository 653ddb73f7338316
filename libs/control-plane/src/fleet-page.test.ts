import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestAgent } from "@devenv/hub/testing";
import { uniqueName } from "@devenv/testing";
import { readySnapshotIn, shrinkPayload } from "./testing/harness.ts";
import { startOpsServer, type OpsServerFixture } from "./testing/ops-server.ts";

/** Debian's chromium, installed by scripts/setup.sh; DEVENV_CHROMIUM points elsewhere. */
const chromiumPath = process.env.DEVENV_CHROMIUM ?? "/usr/bin/chromium";
const screenshots = fileURLToPath(new URL("../../../../test-results/fleet-page/", import.meta.url));
const MiB = 1024 * 1024;

let fixture: OpsServerFixture;
let browser: Browser;
const agents: TestAgent[] = [];

beforeAll(async () => {
  if (!existsSync(chromiumPath)) throw new Error(`no chromium at ${chromiumPath}: run npm run setup (or set DEVENV_CHROMIUM)`);
  mkdirSync(screenshots, { recursive: true });
  fixture = await startOpsServer();
  // root in a container has no user namespaces for chromium's sandbox
  browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox"] });
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await browser?.close();
  await fixture?.cleanup();
});

const text = (locator: Locator) => locator.first().textContent({ timeout: 2_000 }).then((t) => t?.trim() ?? "").catch(() => "");

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${fixture.plane.url}/fleet`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}

describe("fleet page in chromium", () => {
  it("signs in, shows a real fleet with agents' state and restore progress, and follows changes live", async () => {
    const admin = fixture.client(fixture.adminToken);
    const ada = await admin.auth.users.create.mutate({ name: uniqueName("ada"), role: "developer" });
    const bob = await admin.auth.users.create.mutate({ name: uniqueName("bob"), role: "developer" });
    const ops = await admin.auth.users.create.mutate({ name: uniqueName("ops"), role: "ops" });
    const snapshot = await readySnapshotIn(fixture.store);
    const big = await fixture.store.snapshots.create({ id: uniqueName("big"), location: "test", sourceDescription: "nightly from prod", status: "ready", sizeBytes: 5 * 1024 * MiB, rows: 1_234_567, tablesCount: 12 });
    const job = await fixture.store.jobs.enqueue({ kind: "shrink", payload: shrinkPayload });

    // ada's instance gets a real agent over the wire protocol; bob's stays without one
    const { instance } = await fixture.client(ada.token.plaintext).instances.up.mutate({ kind: "personal", snapshotId: snapshot.id });
    const { instance: bobs } = await fixture.client(bob.token.plaintext).instances.up.mutate({ kind: "personal" });
    await fixture.plane.instances.settled();
    const joinToken = fixture.provisioner.provisioned.find((p) => p.instanceId === instance.id)!.joinToken;
    const agent = await TestAgent.connect({ url: fixture.agentUrl, auth: { joinToken }, identity: { hostname: "ada-host" }, agentVersion: "1.2.3" });
    agents.push(agent);
    agent.heartbeat();
    agent.startHeartbeats(200);
    const assign = await agent.waitFor((m) => m.type === "assign");
    if (assign.type !== "assign") throw new Error("expected an assign command");
    agent.ack(assign.commandId);
    agent.lifecycle("downloading");
    agent.send({ type: "progress", assignmentId: assign.assignmentId, phase: "download", bytes: 5 * MiB, totalBytes: 20 * MiB, rows: 0, totalRows: 1000 });
    await expect.poll(async () => (await fixture.store.assignments.get(assign.assignmentId)).progress?.bytes).toBe(5 * MiB);

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${fixture.plane.url}/fleet`);
    await page.screenshot({ path: `${screenshots}/1-sign-in.png` });

    // a wrong token is refused on the page, nothing shown
    await page.getByLabel("API token").fill("dvt_not-a-real-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => text(page.getByTestId("sign-in-error"))).toContain("unknown, revoked or expired");
    expect(await page.locator("#fleet").isVisible()).toBe(false);

    await page.getByLabel("API token").fill(ops.token.plaintext);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => text(page.getByTestId("viewer"))).toBe(`${ops.user.name} (ops)`);
    await expect.poll(() => text(page.getByTestId("connection"))).toBe("live");

    const adaRow = page.locator(`[data-instance-id="${instance.id}"]`);
    await expect.poll(() => text(adaRow.getByTestId("instance-state"))).toBe("restoring");
    expect(await text(adaRow.getByTestId("agent-state"))).toBe("downloading");
    expect(await text(adaRow.getByTestId("restore-progress"))).toBe("25% download");
    expect(await text(adaRow)).toContain("ada-host v1.2.3");
    expect(await text(adaRow)).toContain(ada.user.name);
    await expect.poll(() => text(adaRow.getByTestId("agent-liveness"))).toBe("healthy");
    expect(await text(adaRow)).toContain("cassandra up, disk 50% free");
    const bobRow = page.locator(`[data-instance-id="${bobs.id}"]`);
    expect(await text(bobRow.getByTestId("instance-state"))).toBe("registering");
    expect(await text(bobRow)).toContain("no agent yet");
    expect(await text(page.locator(`[data-job-id="${job.id}"]`).getByTestId("job-state"))).toBe("queued");
    const bigRow = page.locator(`[data-snapshot-id="${big.id}"]`);
    expect(await text(bigRow.getByTestId("snapshot-size"))).toBe("5.0 GiB");
    expect(await text(bigRow.getByTestId("snapshot-age"))).toBe("0 s ago");
    await page.screenshot({ path: `${screenshots}/2-fleet-restoring.png`, fullPage: true });

    // live: no reload (a marker on the document survives), the page follows the agent and the store
    await page.evaluate(() => Object.assign(globalThis, { sameDocument: true }));
    agent.send({ type: "progress", assignmentId: assign.assignmentId, phase: "load", bytes: 15 * MiB, totalBytes: 20 * MiB, rows: 750, totalRows: 1000, rate: 4 * MiB });
    agent.lifecycle("restoring");
    await expect.poll(() => text(adaRow.getByTestId("restore-progress"))).toBe("75% load");
    await expect.poll(() => text(adaRow.getByTestId("agent-state"))).toBe("restoring");
    await expect.poll(() => text(page.getByTestId("summary"))).toContain("restoring at 4.0 MiB/s");
    await page.screenshot({ path: `${screenshots}/3-fleet-loading.png`, fullPage: true });

    agent.send({ type: "result", assignmentId: assign.assignmentId, ok: true, snapshotId: snapshot.id });
    agent.lifecycle("ready");
    await expect.poll(() => text(adaRow.getByTestId("instance-state"))).toBe("ready");
    await expect.poll(() => text(adaRow.getByTestId("agent-state"))).toBe("ready");
    expect(await text(adaRow.getByTestId("restore"))).toBe("–");
    expect(await text(adaRow)).toContain(snapshot.id);
    await fixture.store.jobs.lease({ owner: "test-runner", kinds: ["shrink"], leaseMs: 60_000 });
    await expect.poll(() => text(page.locator(`[data-job-id="${job.id}"]`).getByTestId("job-state"))).toBe("running");
    expect(await page.evaluate(() => (globalThis as { sameDocument?: boolean }).sameDocument)).toBe(true);
    await page.screenshot({ path: `${screenshots}/4-fleet-ready.png`, fullPage: true });

    // filters: by owner, then by state
    await page.getByTestId("filter-owner").selectOption({ label: bob.user.name });
    await expect.poll(() => page.getByTestId("instance-row").count()).toBe(1);
    expect(await page.getByTestId("instance-row").getAttribute("data-instance-id")).toBe(bobs.id);
    await page.getByTestId("filter-owner").selectOption("");
    await page.getByTestId("filter-state").selectOption("ready");
    await expect.poll(() => page.getByTestId("instance-row").count()).toBe(1);
    expect(await page.getByTestId("instance-row").getAttribute("data-instance-id")).toBe(instance.id);
    await page.screenshot({ path: `${screenshots}/5-filtered-ready.png`, fullPage: true });

    // an instance that ends leaves the fleet live
    await page.getByTestId("filter-state").selectOption("");
    expect(await page.getByTestId("instance-row").count()).toBe(2);
    await fixture.client(fixture.adminToken).instances.down.mutate({ id: bobs.id });
    await fixture.plane.instances.settled();
    await expect.poll(() => page.locator(`[data-instance-id="${bobs.id}"]`).count()).toBe(0);
    expect(await page.getByTestId("instance-row").count()).toBe(1);
    await page.close();
  });

  it("shows a developer only their own instances and no jobs, keeps the token for the tab, and signs out", async () => {
    const admin = fixture.client(fixture.adminToken);
    const carol = await admin.auth.users.create.mutate({ name: uniqueName("carol"), role: "developer" });
    const dave = await admin.auth.users.create.mutate({ name: uniqueName("dave"), role: "developer" });
    const { instance: carols } = await fixture.client(carol.token.plaintext).instances.up.mutate({ kind: "personal" });
    const { instance: daves } = await fixture.client(dave.token.plaintext).instances.up.mutate({ kind: "personal" });
    await fixture.plane.instances.settled();

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await signIn(page, carol.token.plaintext);
    await expect.poll(() => text(page.locator(`[data-instance-id="${carols.id}"]`).getByTestId("instance-state"))).toBe("registering");
    expect(await page.locator(`[data-instance-id="${daves.id}"]`).count()).toBe(0);
    expect(await page.getByTestId("instance-row").count()).toBe(1);
    expect(await page.locator("#jobs-section").isVisible()).toBe(false);
    expect(await page.getByTestId("snapshot-row").count()).toBeGreaterThan(0);
    await page.screenshot({ path: `${screenshots}/6-developer.png`, fullPage: true });

    // the token lives in this tab's session storage: a reload stays signed in
    await page.reload();
    await expect.poll(() => text(page.getByTestId("viewer"))).toBe(`${carol.user.name} (developer)`);
    await expect.poll(() => page.getByTestId("instance-row").count()).toBe(1);

    // a revoked token ends the live stream and returns to the sign-in form
    const [token] = await fixture.client(carol.token.plaintext).auth.tokens.list.query();
    await fixture.client(fixture.adminToken).auth.tokens.revoke.mutate({ id: token!.id });
    await expect.poll(() => page.locator("#sign-in").isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await text(page.getByTestId("sign-in-error"))).toContain("sign in again");
    expect(await page.evaluate(() => sessionStorage.getItem("devenv.fleet.token"))).toBeNull();
    await page.close();
  });
});

describe("fleet routes over HTTP", () => {
  it("serves the page without a token but no data: events and session need a valid bearer token", async () => {
    const base = fixture.plane.url;
    const page = await fetch(`${base}/fleet`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    const html = await page.text();
    // nothing from outside this server
    expect(html).not.toMatch(/https?:\/\//);
    expect((await fetch(`${base}/fleet/app.js`)).headers.get("content-type")).toContain("javascript");
    expect((await fetch(`${base}/fleet/events`)).status).toBe(401);
    expect((await fetch(`${base}/fleet/events`, { headers: { authorization: "Bearer dvt_forged" } })).status).toBe(401);
    expect((await fetch(`${base}/fleet/session`, { method: "POST" })).status).toBe(401);
    expect((await fetch(`${base}/fleet/session`)).status).toBe(405);
  });

  it("streams a first view at once and then only changes", async () => {
    const controller = new AbortController();
    const response = await fetch(`${fixture.plane.url}/fleet/events`, { headers: { authorization: `Bearer ${fixture.adminToken}` }, signal: controller.signal });
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const views: { instances: { instance: { id: string } }[] }[] = [];
    let buffer = "";
    const nextView = async () => {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(frame);
          if (frame.startsWith("event: overview") && data) return JSON.parse(data[1]!) as (typeof views)[number];
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("stream ended");
        buffer += value;
      }
    };
    views.push(await nextView());
    // several polls pass with nothing new: nothing is sent
    await new Promise((r) => setTimeout(r, 400));
    expect(buffer).not.toContain("event: overview");
    const owner = await fixture.store.users.create({ name: uniqueName("erin"), role: "developer" });
    const created = await fixture.store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "static" });
    views.push(await nextView());
    expect(views[1]!.instances.map((row) => row.instance.id)).toContain(created.id);
    expect(views[0]!.instances.map((row) => row.instance.id)).not.toContain(created.id);
    controller.abort();
  });
});
