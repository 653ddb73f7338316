import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { systemClock } from "@devenv/core";
import { openStore, type Instance, type InstanceState, type Store } from "@devenv/store";
import { InstanceManager } from "./instance-manager.ts";
import { isProcessOf } from "./local-agent-process.ts";
import { LocalAgentSupervisor, type AgentSupervisorEvent, type LocalAgentSupervisorOptions } from "./local-agent-supervisor.ts";
import { LocalProvisioner } from "./local-provisioner.ts";

// A stand-in agent (the real one needs a control plane and a Cassandra node; the e2e
// suite kills that one): a real process that notes each start in its state dir, stays up,
// and exits at once while a `crash` file is there.
const fakeAgent = `
const args = process.argv.slice(1);
const stateDir = args[args.indexOf("--state-dir") + 1];
const fs = require("node:fs");
fs.appendFileSync(stateDir + "/starts", process.pid + " " + args.join(" ") + "\\n");
if (fs.existsSync(stateDir + "/crash")) process.exit(3);
setInterval(() => {}, 60000);
`;

let dir: string;
let store: Store;
let provisioner: LocalProvisioner;
let ownerId: string;
let agentUrl: string;
const supervisors: LocalAgentSupervisor[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-supervisor-"));
  store = await openStore({ url: `sqlite:${join(dir, "devenv.db")}` });
  agentUrl = "ws://127.0.0.1:7070/agent";
  provisioner = newProvisioner();
  ownerId = (await store.users.create({ name: "dana", role: "developer" })).id;
});

afterEach(async () => {
  for (const supervisor of supervisors.splice(0)) await supervisor.stop();
  for (const instance of await store.instances.list({})) await provisioner.terminate(instance);
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function newProvisioner(): LocalProvisioner {
  return new LocalProvisioner({ instancesDir: join(dir, "instances"), agentCommand: [process.execPath, "-e", fakeAgent, "--"], agentUrl: () => agentUrl });
}

function supervisor(options: Partial<LocalAgentSupervisorOptions> = {}): LocalAgentSupervisor {
  const instances = new InstanceManager({
    store,
    clock: systemClock,
    provisioners: { byKind: { local: provisioner }, forInstanceKind: () => provisioner },
    snapshots: { locate: (snapshotId) => Promise.reject(new Error(`no snapshot store here (asked for ${snapshotId})`)) },
  });
  const created = new LocalAgentSupervisor({ provisioner, store, instances, ...options });
  supervisors.push(created);
  return created;
}

/** A local instance in `state` whose (stand-in) agent runs. */
async function instanceWithAgent(state: InstanceState = "ready"): Promise<Instance> {
  const created = await store.instances.create({ ownerId, kind: "personal", provisioner: "local", ttlExpiresAt: null });
  const path: InstanceState[] = ["provisioning", "registering", "ready"];
  if (state === "draining") path.push("draining");
  for (const to of path) await store.instances.transition(created.id, { to });
  await provisioner.launchAgent(created, "127.0.0.1:9042");
  const instance = await store.instances.get(created.id);
  await until("the agent to start", () => starts(instance).length === 1);
  return instance;
}

function starts(instance: Instance): string[] {
  const file = join(provisioner.dirOf(instance), "agent", "starts");
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}
const pidOf = (instance: Instance) => Number(readFileSync(join(provisioner.dirOf(instance), "agent.pid"), "utf8"));
const agentRuns = (instance: Instance) => isProcessOf(pidOf(instance), join(provisioner.dirOf(instance), "agent"));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function kill9(instance: Instance): Promise<number> {
  const pid = pidOf(instance);
  // the agent has started (noted it) before it is killed
  await until("the agent to start", () => starts(instance).some((line) => line.startsWith(`${pid} `)));
  process.kill(pid, "SIGKILL");
  await until("the agent to die", () => !agentRuns(instance));
  return pid;
}

describe("local agent supervisor", () => {
  it("starts a SIGKILLed agent again with the same state dir and command line, and records the restart", async () => {
    const instance = await instanceWithAgent();
    const events: AgentSupervisorEvent[] = [];
    const watcher = supervisor({ policy: { initialBackoffMs: 0 }, onEvent: (e) => events.push(e) });
    expect(await watcher.checkOnce()).toEqual([]);

    const killed = await kill9(instance);
    const pass = await watcher.checkOnce();
    expect(pass).toEqual([
      { kind: "exited", instanceId: instance.id, pid: killed, restartInMs: 0 },
      { kind: "restarted", instanceId: instance.id, pid: pidOf(instance), previousPid: killed, restartsInWindow: 1 },
    ]);
    expect(events).toEqual(pass);
    expect(agentRuns(instance)).toBe(true);
    await until("the restarted agent to start", () => starts(instance).length === 2);
    const [first, second] = starts(instance);
    // the same arguments: the same state dir, control plane, node and instance id
    expect(second!.slice(second!.indexOf(" "))).toBe(first!.slice(first!.indexOf(" ")));
    expect(second).toContain(`--state-dir ${join(provisioner.dirOf(instance), "agent")}`);
    const [audit] = await store.audit.list({ action: "instance.agent-restarted", subject: `instance:${instance.id}` });
    expect(audit?.detail).toEqual({ pid: pidOf(instance), previousPid: killed, restartsInWindow: 1 });
    expect((await store.instances.get(instance.id)).state).toBe("ready");
  });

  it("does not take another program that got the agent's old pid for the agent", async () => {
    const instance = await instanceWithAgent();
    await kill9(instance);
    // this test's own process: alive, but not the agent
    writeFileSync(join(provisioner.dirOf(instance), "agent.pid"), String(process.pid));
    expect(provisioner.agentStatus(instance)).toEqual({ state: "exited", pid: process.pid });
    const pass = await supervisor({ policy: { initialBackoffMs: 0 } }).checkOnce();
    expect(pass.map((e) => e.kind)).toEqual(["exited", "restarted"]);
    expect(agentRuns(instance)).toBe(true);
  });

  it("backs off between restarts of an agent that keeps exiting, then gives up and fails the instance", async () => {
    const instance = await instanceWithAgent();
    let now = 1_000_000;
    const watcher = supervisor({ now: () => now, policy: { initialBackoffMs: 1_000, maxBackoffMs: 3_000, maxRestarts: 3, windowMs: 60_000 } });
    writeFileSync(join(provisioner.dirOf(instance), "agent", "crash"), "");
    await kill9(instance);
    const at = async (t: number) => {
      now = 1_000_000 + t;
      return (await watcher.checkOnce()).map((e) => (e.kind === "exited" ? `exited, restart in ${e.restartInMs}` : e.kind));
    };
    const exitedAgain = async () => {
      await until("the restarted agent to start", () => starts(instance).some((line) => line.startsWith(`${pidOf(instance)} `)));
      await until("the restarted agent to exit", () => !agentRuns(instance));
    };

    expect(await at(0)).toEqual(["exited, restart in 1000"]);
    expect(await at(999)).toEqual([]);
    expect(await at(1_000)).toEqual(["restarted"]);
    await exitedAgain();
    expect(await at(1_100)).toEqual(["exited, restart in 2000"]);
    expect(await at(3_099)).toEqual([]);
    expect(await at(3_100)).toEqual(["restarted"]);
    await exitedAgain();
    // the back-off is capped
    expect(await at(3_200)).toEqual(["exited, restart in 3000"]);
    expect(await at(6_200)).toEqual(["restarted"]);
    await exitedAgain();
    expect(await at(6_300)).toEqual(["gave-up"]);
    expect(await at(100_000)).toEqual([]);

    expect(starts(instance)).toHaveLength(4);
    const failed = await store.instances.get(instance.id);
    expect(failed.state).toBe("failed");
    expect(failed.stateDetail).toMatch(/agent exited 4 times within 1 min; not restarted again \(see .*agent\.log\)/);
    expect(await store.audit.list({ action: "instance.agent-gave-up" })).toHaveLength(1);
  });

  it("counts only the restarts inside the window: an agent that ran fine for long is restarted at once again", async () => {
    const instance = await instanceWithAgent();
    let now = 5_000_000;
    const watcher = supervisor({ now: () => now, policy: { initialBackoffMs: 0, maxRestarts: 1, windowMs: 60_000 } });
    await kill9(instance);
    expect((await watcher.checkOnce()).map((e) => e.kind)).toEqual(["exited", "restarted"]);
    now += 61_000;
    await kill9(instance);
    expect((await watcher.checkOnce()).map((e) => e.kind)).toEqual(["exited", "restarted"]);
    await kill9(instance);
    expect((await watcher.checkOnce()).map((e) => e.kind)).toEqual(["gave-up"]);
  });

  it("never restarts the agent of an instance being ended, or of one terminated", async () => {
    const draining = await instanceWithAgent("draining");
    const terminated = await instanceWithAgent();
    const watcher = supervisor({ policy: { initialBackoffMs: 0 } });
    await kill9(draining);
    await provisioner.terminate(terminated);
    await store.instances.transition(terminated.id, { to: "terminated" });
    expect(await watcher.checkOnce()).toEqual([]);
    expect(existsSync(provisioner.dirOf(terminated))).toBe(false);
    expect(starts(draining)).toHaveLength(1);

    // a restart racing with terminate waits for it, and then finds nothing to start
    const ready = await instanceWithAgent();
    await kill9(ready);
    const stopping = provisioner.terminate(ready);
    expect(await provisioner.restartAgent(ready)).toBeUndefined();
    await stopping;
    expect(existsSync(provisioner.dirOf(ready))).toBe(false);
  });

  it("adopts the agents a previous control plane started, and restarts one that died while it was down", async () => {
    const instance = await instanceWithAgent();
    const first = supervisor({ intervalMs: 50, policy: { initialBackoffMs: 0 } });
    first.start();
    await first.stop();
    const killed = await kill9(instance);

    // a new control plane: a new provisioner over the same instances dir, on a new port
    agentUrl = "ws://127.0.0.1:7071/agent";
    provisioner = newProvisioner();
    const events: AgentSupervisorEvent[] = [];
    supervisor({ intervalMs: 50, policy: { initialBackoffMs: 100 }, onEvent: (e) => events.push(e) }).start();
    await until("the agent to run again", () => agentRuns(instance));
    expect(pidOf(instance)).not.toBe(killed);
    await until("the restarted agent to start", () => starts(instance).length === 2);
    expect(starts(instance)[1]).toContain("--control-plane-url ws://127.0.0.1:7071/agent");
    expect(events.map((e) => e.kind)).toEqual(["exited", "restarted"]);
    // once running, later passes leave it alone
    await new Promise((r) => setTimeout(r, 300));
    expect(events).toHaveLength(2);
    expect(starts(instance)).toHaveLength(2);
  });
});
