import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiClient, startDevenvServer, type ApiClient, type RunningDevenvServer } from "@devenv/api";
import { ForwardDaemon } from "@devenv/forward";
import { TestAgent } from "@devenv/hub";
import { connectCassandra } from "@devenv/snapshot";

// A spot host's two-minute notice: the control plane starts a replacement (a real local
// agent and Cassandra node), `mine` follows it, and the interrupted instance is ended.
const repo = resolve(import.meta.dirname, "../..");

let dir: string;
let server: RunningDevenvServer;
let api: ApiClient;
let token: string;

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-spot-"));
  const out = new PassThrough();
  let printed = "";
  out.on("data", (chunk: Buffer) => (printed += chunk.toString()));
  server = await startDevenvServer({ dataDir: dir, port: 0, out, agentCommand: [join(repo, "apps/agent/bin/devenv-agent")], heartbeatIntervalMs: 1_000, maintenanceIntervalMs: 0 });
  token = /Admin token \(shown once, keep it safe\): (\S+)/.exec(printed)![1]!;
  api = createApiClient({ url: server.url, token });
}, 60_000);

afterAll(async () => {
  for (const instance of await api.instances.list.query({}).catch(() => [])) {
    if (instance.state !== "terminated") await api.instances.down.mutate({ id: instance.id }).catch(() => {});
  }
  await server?.instances.settled();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
}, 180_000);

describe("spot replacement", () => {
  it("replaces an interrupted personal instance, moves `mine` to the replacement and ends the old one", async () => {
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
    const forward = new ForwardDaemon({ listen: { host: "127.0.0.1", port: 0 }, route: { kind: "tunnel", url: `${server.url.replace(/^http/, "ws")}/tunnel/mine`, token } });
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
