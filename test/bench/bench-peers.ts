import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { findJava, processRunner } from "@devenv/cassandra-node";

const run = promisify(execFile);

export interface BenchPeers {
  cqlsh: { bin: string; version: string } | { unavailable: string };
  dsbulk: { java: string; javaVersion: string; libDir: string; version: string } | { unavailable: string };
}

/**
 * Runs scripts/install-bench-peers.sh (a fast no-op once installed) and checks what it
 * installed can run here; a peer that cannot is reported as unavailable, not fatal.
 */
export async function preparePeers(repoRoot: string, options: { install: boolean; cacheDir: string; log: (m: string) => void }): Promise<BenchPeers> {
  const installed = new Map<string, string>();
  if (options.install) {
    try {
      const { stdout, stderr } = await run("bash", [join(repoRoot, "scripts/install-bench-peers.sh")], {
        env: { ...process.env, DEVENV_CACHE_DIR: options.cacheDir },
        maxBuffer: 16 * 1024 * 1024,
      });
      for (const line of stderr.split("\n").filter(Boolean)) options.log(`peers: ${line.trim()}`);
      for (const line of stdout.split("\n")) {
        const match = /^(\w+)=(.*)$/.exec(line.trim());
        if (match) installed.set(match[1]!, match[2]!);
      }
    } catch (error) {
      const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
      options.log(`peers: scripts/install-bench-peers.sh failed; continuing with what is installed:\n${detail}`);
    }
  }
  const cqlshBin = installed.get("cqlsh") ?? join(options.cacheDir, "bench/cqlsh-venv/bin/cqlsh");
  const cqlsh = await probe(async () => {
    if (!existsSync(cqlshBin)) throw new Error(`not installed (run scripts/install-bench-peers.sh)`);
    const { stdout } = await run(cqlshBin, ["--version"], { timeout: 60_000 });
    return { bin: cqlshBin, version: stdout.trim() };
  });

  const dsbulk = await probe(async () => {
    const libDir = installed.get("dsbulk_lib") ?? newestDsbulkLib(options.cacheDir);
    if (!libDir || !existsSync(join(libDir, ".devenv-dsbulk-complete"))) throw new Error("not installed (run scripts/install-bench-peers.sh)");
    const java = await findJava(processRunner, process.env);
    // dsbulk 1.x was built for Java 8; prove it starts on this JDK before timing it
    const { stdout } = await run(java.path, ["-cp", `${libDir}/*`, "com.datastax.oss.dsbulk.runner.DataStaxBulkLoader", "--version"], {
      timeout: 120_000,
    });
    const version = /v(\d+\.\d+\.\d+)/.exec(stdout)?.[1];
    if (!version) throw new Error(`does not start on Java ${java.major}: ${stdout.trim().slice(0, 300)}`);
    return { java: java.path, javaVersion: String(java.major), libDir, version };
  });
  return { cqlsh, dsbulk };
}

async function probe<T>(check: () => Promise<T>): Promise<T | { unavailable: string }> {
  try {
    return await check();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    return { unavailable: stderr ? `${(error as Error).message}: ${stderr.slice(0, 300)}` : (error as Error).message };
  }
}

function newestDsbulkLib(cacheDir: string): string | undefined {
  const pinned = join(cacheDir, "bench/dsbulk/.newest-version");
  if (!existsSync(pinned)) return undefined;
  return join(cacheDir, "bench/dsbulk", readFileSync(pinned, "utf8").trim(), "lib");
}
