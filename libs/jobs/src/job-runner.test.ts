import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore, type Job, type Store } from "@devenv/store";
import { JobRunner, type JobHandler } from "./job-runner.ts";

let dir: string;
let url: string;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "devenv-jobs-"));
  url = `sqlite:${join(dir, "devenv.db")}`;
  store = await openStore({ url });
});

afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 50));
  }
}

const finished = (id: string) => until(async () => {
  const job = await store.jobs.get(id);
  return ["succeeded", "failed", "cancelled"].includes(job.state) ? job : undefined;
});

describe("JobRunner", () => {
  it("runs a job to success, keeping its result and its log", async () => {
    const job = await store.jobs.enqueue({ kind: "refresh", payload: { n: 21 } });
    const runner = new JobRunner({ store, pollMs: 20, handlers: { refresh: async (j, ctx) => {
      ctx.log("info", "doubling");
      return { doubled: (j.payload as { n: number }).n * 2 };
    } } });
    runner.start();
    const done = await finished(job.id);
    await runner.stop();
    expect(done.state).toBe("succeeded");
    expect(done.result).toEqual({ doubled: 42 });
    expect((await store.jobLogs.tail(job.id)).map((l) => l.line)).toContain("doubling");
  });

  it("retries a failing job until its attempts are used up, then fails it with the error", async () => {
    const job = await store.jobs.enqueue({ kind: "refresh", payload: {}, maxAttempts: 3 });
    let calls = 0;
    const runner = new JobRunner({ store, pollMs: 20, retryAfterMs: 0, handlers: { refresh: async () => {
      calls++;
      throw new Error(`source unreachable (${calls})`);
    } } });
    runner.start();
    const done = await finished(job.id);
    await runner.stop();
    expect(done.state).toBe("failed");
    expect(done.attempts).toBe(3);
    expect(done.error).toBe("source unreachable (3)");
    expect(calls).toBe(3);
  });

  it("never runs more jobs at once than its concurrency", async () => {
    const jobs = await store.jobs.enqueueMany(Array.from({ length: 6 }, (_, i) => ({ kind: "shrink-task" as const, payload: { i } })));
    let running = 0;
    let peak = 0;
    const handler: JobHandler = async () => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 60));
      running--;
      return null;
    };
    const runner = new JobRunner({ store, pollMs: 10, concurrency: 2, handlers: { "shrink-task": handler } });
    runner.start();
    for (const job of jobs) expect((await finished(job.id)).state).toBe("succeeded");
    await runner.stop();
    expect(peak).toBe(2);
  });

  it("aborts a running handler when its job is cancelled", async () => {
    const job = await store.jobs.enqueue({ kind: "refresh", payload: {} });
    let aborted = false;
    const runner = new JobRunner({ store, pollMs: 20, leaseMs: 150, handlers: { refresh: (_j, ctx) => new Promise((_resolve, reject) => {
      ctx.signal.addEventListener("abort", () => {
        aborted = true;
        reject(ctx.signal.reason as Error);
      });
    }) } });
    runner.start();
    await until(async () => (await store.jobs.get(job.id)).state === "running");
    await store.jobs.cancel(job.id);
    await until(async () => aborted);
    await runner.stop();
    expect((await store.jobs.get(job.id)).state).toBe("cancelled");
  });

  it("takes over the job of a runner killed with SIGKILL once its lease runs out", async () => {
    const job = await store.jobs.enqueue({ kind: "shrink", payload: {}, maxAttempts: 3 });
    const child = spawn(process.execPath, ["--conditions=devenv-source", join(import.meta.dirname, "testing/blocking-runner.ts"), url, "1000"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (text: string) => (output += text));
    await until(async () => output.includes(`started ${job.id}`), 30_000);
    const leased: Job = await store.jobs.get(job.id);
    expect(leased.leaseOwner).toBe(`doomed:${child.pid}`);
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));

    const survivor = new JobRunner({ store, pollMs: 50, handlers: { shrink: async (j) => ({ attempt: j.attempts }) } });
    survivor.start();
    const done = await finished(job.id);
    await survivor.stop();
    expect(done.state).toBe("succeeded");
    expect(done.attempts).toBe(2);
    expect(done.result).toEqual({ attempt: 2 });
    expect((await store.jobLogs.tail(job.id)).map((l) => l.line).join("\n")).toMatch(/attempt 1 of 3 on doomed[\s\S]*attempt 2 of 3/);
  });
});
