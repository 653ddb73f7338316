import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import type { RunningService } from "./service.ts";
import { cacheDir } from "./service.ts";
import { delay, exitDescription, exited, keepTail, stopChild } from "./child-process.ts";

export interface MotoInfo {
  /** Base URL for AWS SDK clients, e.g. http://127.0.0.1:41234 */
  endpoint: string;
}

export interface StartMotoOptions {
  /** Reuse this moto server instead of starting one (default: env DEVENV_TEST_MOTO_URL). */
  endpoint?: string;
  /** Port for a server started here (default: a free one). */
  port?: number;
  env?: NodeJS.ProcessEnv;
  startDeadlineMs?: number;
  stopDeadlineMs?: number;
}

const outputLinesKept = 40;

/**
 * Reuses a moto server (opts.endpoint or DEVENV_TEST_MOTO_URL) after checking it
 * answers, or starts one from the venv that scripts/install-moto.sh creates.
 */
export async function startMoto(opts: StartMotoOptions = {}): Promise<RunningService<MotoInfo>> {
  const env = opts.env ?? process.env;
  const reuse = opts.endpoint ?? env.DEVENV_TEST_MOTO_URL;
  if (reuse) {
    const endpoint = reuse.replace(/\/+$/, "");
    const problem = await probe(endpoint);
    if (problem !== undefined) {
      const source = opts.endpoint ? "the endpoint option" : "DEVENV_TEST_MOTO_URL";
      throw new Error(`moto server at ${endpoint} (from ${source}) does not answer GET /moto-api/: ${problem}`);
    }
    return { info: { endpoint }, startedHere: false, stop: async () => {} };
  }

  const motoServer = join(cacheDir(env), "moto", "venv", "bin", "moto_server");
  if (!existsSync(motoServer)) {
    throw new Error(`moto is not installed (${motoServer} is missing): run scripts/install-moto.sh`);
  }
  // a port freed by freePort() can be taken again before moto binds it: retry with another
  const attempts = opts.port === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const port = opts.port ?? (await freePort());
    try {
      return await spawnMoto(motoServer, port, env, opts);
    } catch (error) {
      if (attempt >= attempts || !(error instanceof PortTakenError)) throw error;
    }
  }
}

/** Forgets every bucket, instance and other resource the server holds. */
export async function resetMoto(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: "POST", signal: AbortSignal.timeout(10_000) });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`POST ${endpoint}/moto-api/reset answered HTTP ${response.status}`);
}

class PortTakenError extends Error {}

async function spawnMoto(
  motoServer: string,
  port: number,
  env: NodeJS.ProcessEnv,
  opts: StartMotoOptions,
): Promise<RunningService<MotoInfo>> {
  const endpoint = `http://127.0.0.1:${port}`;
  // moto logs every request: the pipes must be drained even though only the tail is kept
  const child = spawn(motoServer, ["-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...env, PYTHONUNBUFFERED: "1" },
  });
  const output = keepTail(child, outputLinesKept);
  // if the test process exits without running teardown, do not leave moto behind
  const killOnExit = () => child.kill("SIGKILL");
  process.on("exit", killOnExit);
  const stop = async () => {
    await stopChild(child, "SIGTERM", opts.stopDeadlineMs ?? 10_000);
    process.off("exit", killOnExit);
  };

  const deadline = Date.now() + (opts.startDeadlineMs ?? 30_000);
  let problem: string | undefined = "not polled yet";
  while (Date.now() < deadline) {
    if (exited(child)) {
      process.off("exit", killOnExit);
      const log = output();
      const message = `moto server exited (${exitDescription(child)}) before answering on ${endpoint}; its last output:\n${log}`;
      throw /address already in use/i.test(log) ? new PortTakenError(message) : new Error(message);
    }
    problem = await probe(endpoint);
    if (problem === undefined) return { info: { endpoint }, startedHere: true, stop };
    await delay(100);
  }
  await stop();
  throw new Error(`moto server did not answer on ${endpoint} within the deadline (${problem}); its last output:\n${output()}`);
}

/** undefined when the moto API answers, otherwise what went wrong. */
async function probe(endpoint: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok ? undefined : `HTTP ${response.status}`;
  } catch (error) {
    return error instanceof Error ? (causeMessage(error) ?? error.message) : String(error);
  }
}

function causeMessage(error: Error): string | undefined {
  return error.cause instanceof Error ? error.cause.message : undefined;
}
