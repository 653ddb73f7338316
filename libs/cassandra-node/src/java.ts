import { existsSync, readdirSync, realpathSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import type { CommandRunner } from "./command-runner.ts";
import { CassandraNodeError } from "./errors.ts";

/** Cassandra 5.0 runs on Java 11 and 17; 17 is what we test with. */
const supportedJavaMajors = [17, 11];
const installHint = "install openjdk-17-jdk-headless (or set DEVENV_JAVA to a Java 17 binary)";

export interface JavaRuntime {
  /** Absolute path of the java binary. */
  path: string;
  /** JAVA_HOME for tools that want one (Maven). */
  home: string;
  major: number;
}

/**
 * Finds a Java that can run Cassandra 5.0. `DEVENV_JAVA` (or the explicit path) must be right
 * when given; otherwise JAVA_HOME, PATH and the usual Debian location are tried in that order.
 */
export async function findJava(runner: CommandRunner, env: NodeJS.ProcessEnv, explicit?: string): Promise<JavaRuntime> {
  const override = explicit ?? env.DEVENV_JAVA;
  if (override) {
    const found = await probeJava(runner, override);
    const source = explicit ? "" : "DEVENV_JAVA=";
    if (!found) throw new CassandraNodeError("java-missing", `Java not found at ${source}${override}: ${installHint}`);
    if (!supportedJavaMajors.includes(found.major)) {
      throw new CassandraNodeError("java-missing", `${source}${override} is Java ${found.major}; Cassandra 5.0 needs Java 17: ${installHint}`);
    }
    return found;
  }
  const unsupported: string[] = [];
  for (const candidate of javaCandidates(env)) {
    const found = await probeJava(runner, candidate);
    if (!found) continue;
    if (supportedJavaMajors.includes(found.major)) return found;
    unsupported.push(`Java ${found.major} at ${found.path}`);
  }
  const seen = unsupported.length > 0 ? ` (found only ${[...new Set(unsupported)].join(", ")})` : "";
  throw new CassandraNodeError("java-missing", `Java 17 not found${seen}: ${installHint}`);
}

function javaCandidates(env: NodeJS.ProcessEnv): string[] {
  const candidates: string[] = [];
  if (env.JAVA_HOME) candidates.push(join(env.JAVA_HOME, "bin", "java"));
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir) candidates.push(join(dir, "java"));
  }
  // Debian installs several JDKs side by side; the default `java` may be a newer one
  const jvmRoot = "/usr/lib/jvm";
  if (existsSync(jvmRoot)) {
    for (const name of readdirSync(jvmRoot).sort()) {
      if (/-1[17]-/.test(name)) candidates.push(join(jvmRoot, name, "bin", "java"));
    }
  }
  return candidates.filter((path) => existsSync(path));
}

async function probeJava(runner: CommandRunner, path: string): Promise<JavaRuntime | undefined> {
  if (!existsSync(path)) return undefined;
  const result = await runner.run(path, ["-version"]);
  if (result.exitCode !== 0) return undefined;
  // `openjdk version "17.0.15" 2025-04-15` (Java 8 said "1.8.0_...")
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.stderr + result.stdout);
  if (!match) return undefined;
  const major = match[1] === "1" ? Number(match[2]) : Number(match[1]);
  const real = realpathSync(path);
  return { path: real, home: dirname(dirname(real)), major };
}
