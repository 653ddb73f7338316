import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ForwardDaemon } from "@devenv/forward";
import { TestAgent } from "@devenv/hub/testing";
import { connectCassandra } from "@devenv/snapshot";
import { startTestControlPlane, stopTestControlPlane, tunnelUrl, until, type TestControlPlane } from "../harness/control-plane.ts";

// A spot host's two-minute notice: the control plane starts a replacement (a real local
// agent and Cassandra node), `mine` follows it, and the interrupted instance is ended.
const repo = resolve(import.meta.dirname, "../..");

let dir: string;
let plane: TestControlPlane;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-spot-"));
  plane = await startTestControlPlane({ dataDir: dir, port: 0, agentCommand: [join(repo, "apps/agent/bin/devenv-agent")] });
}, 60_000);

afterAll(async () => {
  await stopTestControlPlane(plane);
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("spot replacement", () => {
  it("replaces an interrupted personal instance, moves `mine` to the replacement and ends the old one", async () => {
    const { api, server, token } = plane;
    const { instance } = await api.instances.up.mutate({ kind: "personal" });
    await until("the first instance", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "ready" ? true : undefined), 240_000);

    // the host's agent gets its notice (this one stands in for it, registered with a fresh join token)
    const { plaintext } = await server.store.joinTokens.issue(instance.id);
    const agent = await TestAgent.connect({ url: `${server.url.replace(/^http/, "ws")}/agent`, auth: { joinToken: plaintext } });
    agent.lifecycle("ready");
    agent.lifecycle("interrupting", { detail: "spot instance-action: terminate" });

    const replacement = await until("a replacement", async () => {
      const mine = await api.instances.list.query({});
      return mine.find((i) => i.id !== instance.id && i.kind === "personal");
    }, 30_000);
    await until("the replacement to be ready", async () => ((await api.instances.show.query({ id: replacement.id })).instance.state === "ready" ? true : undefined), 240_000);
    await until("the interrupted instance to end", async () => ((await api.instances.show.query({ id: instance.id })).instance.state === "terminated" ? true : undefined), 120_000);
    await agent.close();

    // new connections to `mine` reach the replacement's database
    const forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: tunnelUrl(server, "mine"), token } });
    const { port } = await forward.listen();
    const shown = (await api.instances.show.query({ id: replacement.id })).instance;
    const direct = await connectCassandra({ contactPoints: [`${shown.hostAddress}:${shown.hostPort}`], localDataCenter: "datacenter1" });
    const viaForward = await connectCassandra({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: "datacenter1" });
    try {
      const hostId = async (client: typeof direct) => String((await client.execute("SELECT host_id FROM system.local")).first().get("host_id"));
      expect(await hostId(viaForward)).toBe(await hostId(direct));
    } finally {
      await viaForward.shutdown();
      await direct.shutdown();
      await forward.close();
    }
    const audit = await server.store.audit.list({ action: "instance.replace" });
    expect(audit.map((e) => e.detail)).toContainEqual({ replacement: replacement.id });
  }, 600_000);
});
