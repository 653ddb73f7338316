import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestAgent } from "@devenv/hub/testing";
import { uniqueName } from "@devenv/testing";
import { startOpsServer, type OpsServerFixture } from "./testing/ops-server.ts";
import type { SlackMessage } from "@devenv/api";
import { slackSignature } from "@devenv/api";

const secret = "slack-signing-secret-for-tests";
let fixture: OpsServerFixture;
/** Stands in for Slack's response URLs: records what the control plane posts later. */
let responses: Server;
let responseBase: string;
const posted = new Map<string, SlackMessage[]>();
const agents: TestAgent[] = [];
let counter = 0;

beforeAll(async () => {
  fixture = await startOpsServer({ slack: { signingSecret: secret, responseUrlAllowed: (url) => url.origin === responseBase, pollIntervalMs: 50 } });
  responses = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const list = posted.get(request.url!) ?? [];
      list.push(JSON.parse(Buffer.concat(chunks).toString("utf8")) as SlackMessage);
      posted.set(request.url!, list);
      response.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => responses.listen(0, "127.0.0.1", resolve));
  responseBase = `http://127.0.0.1:${(responses.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.close()));
  await fixture?.cleanup();
  await new Promise<void>((resolve) => responses?.close(() => resolve()));
});

interface Sent {
  status: number;
  body: SlackMessage & { error?: string };
  responsePath: string;
}

/** Posts a slash command as Slack does; `sign` changes how (or whether) it is signed. */
async function slash(slackUserId: string, text: string, sign: { secret?: string; ageSeconds?: number; unsigned?: boolean; raw?: { body: string; headers: Record<string, string> } } = {}): Promise<Sent & { raw: { body: string; headers: Record<string, string> } }> {
  const responsePath = `/commands/${++counter}`;
  const body =
    sign.raw?.body ??
    new URLSearchParams({ token: "ignored", team_id: "T1", user_id: slackUserId, command: "/devenv", text, response_url: `${responseBase}${responsePath}`, trigger_id: "x" }).toString();
  const timestamp = String(Math.floor(fixture.clock.now() / 1000) - (sign.ageSeconds ?? 0));
  const headers: Record<string, string> = sign.raw?.headers ?? {
    "content-type": "application/x-www-form-urlencoded",
    ...(sign.unsigned ? {} : { "x-slack-request-timestamp": timestamp, "x-slack-signature": slackSignature(sign.secret ?? secret, timestamp, body) }),
  };
  const response = await fetch(`${fixture.plane.url}/slack/commands`, { method: "POST", headers, body });
  return { status: response.status, body: (await response.json()) as Sent["body"], responsePath, raw: { body, headers } };
}

async function laterAnswer(path: string): Promise<SlackMessage> {
  await expect.poll(() => posted.get(path)?.length ?? 0, { timeout: 10_000 }).toBe(1);
  return posted.get(path)![0]!;
}

async function linkedDeveloper(slackUserId: string) {
  const admin = fixture.client(fixture.adminToken);
  return admin.auth.users.create.mutate({ name: uniqueName("dev"), role: "developer", slackUserId });
}

describe("POST /slack/commands", () => {
  it("answers only fresh, correctly signed requests, each once", async () => {
    await linkedDeveloper("U0SIGNED");
    const valid = await slash("U0SIGNED", "help");
    expect(valid.status).toBe(200);
    expect(valid.body).toMatchObject({ response_type: "ephemeral", text: expect.stringContaining("/devenv status") });

    const unsigned = await slash("U0SIGNED", "status", { unsigned: true });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error).toContain("unsigned");
    const wrongSecret = await slash("U0SIGNED", "status", { secret: "not-the-secret" });
    expect(wrongSecret.status).toBe(401);
    expect(wrongSecret.body.error).toBe("wrong signature");
    const stale = await slash("U0SIGNED", "status", { ageSeconds: 6 * 60 });
    expect(stale.status).toBe(401);
    expect(stale.body.error).toContain("stale");
    const tampered = await slash("U0SIGNED", "status", { raw: { body: valid.raw.body.replace("help", "up"), headers: valid.raw.headers } });
    expect(tampered.status).toBe(401);

    const first = await slash("U0SIGNED", "status");
    expect(first.status).toBe(200);
    const replayed = await slash("U0SIGNED", "status", { raw: first.raw });
    expect(replayed.status).toBe(401);
    expect(replayed.body.error).toContain("replayed");
    // a refused request changes nothing: no instance was started by the tampered "up"
    const user = await fixture.store.users.findBySlackUserId("U0SIGNED");
    expect(await fixture.store.instances.list({ ownerId: user!.id })).toEqual([]);
  });

  it("tells an unknown Slack user how to get linked, and an admin links them", async () => {
    const unknown = await slash("U0NOBODY", "status");
    expect(unknown.status).toBe(200);
    expect(unknown.body.response_type).toBe("ephemeral");
    expect(unknown.body.text).toContain("not linked to a devenv user");
    expect(unknown.body.text).toContain("/slack/links/");

    const admin = fixture.client(fixture.adminToken);
    const { user, token } = await admin.auth.users.create.mutate({ name: uniqueName("newbie"), role: "developer" });
    const link = (bearer: string, method = "PUT", body: unknown = { user: user.name }) =>
      fetch(`${fixture.plane.url}/slack/links/U0NOBODY`, { method, headers: { authorization: `Bearer ${bearer}` }, body: method === "PUT" ? JSON.stringify(body) : undefined });
    expect((await link(token.plaintext)).status).toBe(403);
    expect((await link("dvt_forged")).status).toBe(401);
    expect((await link(fixture.adminToken, "PUT", { user: "no-such-user" })).status).toBe(404);
    const linked = await link(fixture.adminToken);
    expect(linked.status).toBe(200);
    expect(((await linked.json()) as { user: { slackUserId: string } }).user.slackUserId).toBe("U0NOBODY");
    expect((await slash("U0NOBODY", "status")).body.text).toContain("You have no instances");

    expect((await link(fixture.adminToken, "DELETE")).status).toBe(200);
    expect((await slash("U0NOBODY", "status")).body.text).toContain("not linked");
  });

  it("/devenv up starts my instance at once and says later, through the response URL, when it is ready", async () => {
    const dev = await linkedDeveloper("U0UPPER");
    const snapshot = await fixture.store.snapshots.create({ id: uniqueName("snap"), location: "test", sourceDescription: "test", status: "ready", sizeBytes: 2048, rows: 10, tablesCount: 1 });
    const up = await slash("U0UPPER", "up");
    expect(up.status).toBe(200);
    expect(up.body.text).toMatch(/^Working on it: starting instance `[^`]+` with snapshot /);
    const [instance] = await fixture.store.instances.list({ ownerId: dev.user.id });
    expect(up.body.text).toContain(instance!.id);
    expect(posted.get(up.responsePath)).toBeUndefined();

    // the host boots, its agent registers and restores what it is told
    await fixture.plane.instances.settled();
    const joinToken = fixture.provisioner.provisioned.find((p) => p.instanceId === instance!.id)!.joinToken;
    const agent = await TestAgent.connect({ url: fixture.agentUrl, auth: { joinToken } });
    agents.push(agent);
    const assign = await agent.waitFor((m) => m.type === "assign");
    if (assign.type !== "assign") throw new Error("expected assign");
    agent.ack(assign.commandId);
    agent.lifecycle("downloading");
    agent.send({ type: "result", assignmentId: assign.assignmentId, ok: true, snapshotId: assign.snapshot.id });
    agent.lifecycle("ready");
    const later = await laterAnswer(up.responsePath);
    expect(later).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(later.text).toContain(`Instance \`${instance!.id}\` is ready with snapshot ${assign.snapshot.id}`);

    // status now lists it; a second up does not start another
    const status = await slash("U0UPPER", "status");
    expect(status.body.text).toContain(`\`${instance!.id}\` personal: *ready*`);
    expect(status.body.text).toContain("agent ready (healthy)");
    const again = await slash("U0UPPER", "up");
    expect(again.body.text).toContain("You already have instance");
    expect(await fixture.store.instances.list({ ownerId: dev.user.id })).toHaveLength(1);
    expect(snapshot.id).toBeTruthy();
  });

  it("/devenv refresh loads the newest ready snapshot onto my instance and reports the outcome later", async () => {
    const dev = await linkedDeveloper("U0REFRESH");
    expect((await slash("U0REFRESH", "refresh")).body.text).toContain("no personal instance");

    // the catalogue's newest is by creation time: this test's snapshots come after the others'
    fixture.clock.advance(60_000);
    const first = await fixture.store.snapshots.create({ id: uniqueName("old"), location: "test", sourceDescription: "test", status: "ready", sizeBytes: 1, rows: 1, tablesCount: 1 });
    const { instance } = await fixture.client(dev.token.plaintext).instances.up.mutate({ kind: "personal", snapshotId: first.id });
    await fixture.plane.instances.settled();
    const joinToken = fixture.provisioner.provisioned.find((p) => p.instanceId === instance.id)!.joinToken;
    const agent = await TestAgent.connect({ url: fixture.agentUrl, auth: { joinToken }, autoAck: true });
    agents.push(agent);
    const firstAssign = await agent.waitFor((m) => m.type === "assign");
    if (firstAssign.type !== "assign") throw new Error("expected assign");
    agent.send({ type: "result", assignmentId: firstAssign.assignmentId, ok: true, snapshotId: first.id });
    agent.lifecycle("ready");
    await expect.poll(async () => (await fixture.store.instances.get(instance.id)).state).toBe("ready");
    expect((await slash("U0REFRESH", "refresh")).body.text).toContain(`already has the newest snapshot, ${first.id}`);

    fixture.clock.advance(60_000);
    const newer = await fixture.store.snapshots.create({ id: uniqueName("new"), location: "test", sourceDescription: "test", status: "ready", sizeBytes: 1, rows: 1, tablesCount: 1 });
    const refresh = await slash("U0REFRESH", "refresh");
    expect(refresh.status).toBe(200);
    expect(refresh.body.text).toBe(`Working on it: loading snapshot ${newer.id} onto \`${instance.id}\` (its agent has the order). I will tell you here when it is done.`);
    const second = await agent.waitFor((m) => m.type === "assign" && m.assignmentId !== firstAssign.assignmentId);
    if (second.type !== "assign") throw new Error("expected assign");
    expect(second.snapshot.id).toBe(newer.id);
    expect((await slash("U0REFRESH", "refresh")).body.text).toContain(`already loading ${newer.id}`);
    agent.send({ type: "progress", assignmentId: second.assignmentId, phase: "download", bytes: 1, totalBytes: 4, rows: 0, totalRows: 1 });
    await expect.poll(async () => (await slash("U0REFRESH", "status")).body.text).toContain(`restoring ${newer.id}: running 25% (download)`);
    expect(posted.get(refresh.responsePath)).toBeUndefined();
    agent.send({ type: "result", assignmentId: second.assignmentId, ok: true, snapshotId: newer.id });
    expect((await laterAnswer(refresh.responsePath)).text).toBe(`Instance \`${instance.id}\` now has snapshot ${newer.id}.`);

    // a failed restore is reported too
    fixture.clock.advance(60_000);
    const broken = await fixture.store.snapshots.create({ id: uniqueName("broken"), location: "test", sourceDescription: "test", status: "ready", sizeBytes: 1, rows: 1, tablesCount: 1 });
    const again = await slash("U0REFRESH", "refresh");
    const third = await agent.waitFor((m) => m.type === "assign" && m.snapshot.id === broken.id);
    if (third.type !== "assign") throw new Error("expected assign");
    agent.send({ type: "result", assignmentId: third.assignmentId, snapshotId: broken.id, ok: false, error: "chunk abc failed its checksum" });
    expect((await laterAnswer(again.responsePath)).text).toContain(`The restore of ${broken.id} onto \`${instance.id}\` failed: chunk abc failed its checksum`);
  });

  it("answers unknown subcommands with the usage, and refuses GET", async () => {
    await linkedDeveloper("U0CURIOUS");
    const answer = await slash("U0CURIOUS", "destroy everything");
    expect(answer.body.text).toContain("Unknown command `destroy everything`");
    expect(answer.body.text).toContain("/devenv refresh");
    expect((await fetch(`${fixture.plane.url}/slack/commands`)).status).toBe(405);
  });
});
