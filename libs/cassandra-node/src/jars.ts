import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultCacheDir, defaultCassandraVersion } from "./cache-dir.ts";
import { processRunner, type CommandRunner } from "./command-runner.ts";
import { makeDirs } from "./dirs.ts";
import { CassandraNodeError } from "./errors.ts";
import { findJava, type JavaRuntime } from "./java.ts";

export interface ResolveJarsOptions {
  /** Cassandra release on Maven Central (default: the newest 5.0 patch we know). */
  version?: string;
  /** Default: env DEVENV_CACHE_DIR, else ~/.cache/devenv. */
  cacheDir?: string;
  onProgress?: (message: string) => void;
  /** Runs mvn (and java -version); injectable so tests can see what ran. */
  runner?: CommandRunner;
  env?: NodeJS.ProcessEnv;
  /** Java to give Maven; found on demand when not given. */
  java?: JavaRuntime;
}

export interface CassandraJars {
  version: string;
  /** Folder holding cassandra-all and every runtime dependency. */
  libDir: string;
  jars: string[];
  /** True when this call ran Maven; false when the cache already had them. */
  downloaded: boolean;
  /** Time spent, including Maven when it ran. */
  elapsedMs: number;
}

/** Written last into the lib folder: its presence means the folder is complete. */
const markerName = ".devenv-jars.json";
const pomPath = fileURLToPath(new URL("../maven/pom.xml", import.meta.url));

interface JarsMarker {
  version: string;
  jars: string[];
  resolvedAt: string;
}

export function cassandraLibDir(cacheDir: string, version: string): string {
  return join(cacheDir, "cassandra", version, "lib");
}

/**
 * Puts org.apache.cassandra:cassandra-all and its runtime dependencies into
 * `<cacheDir>/cassandra/<version>/lib`. The folder appears whole or not at all (built
 * in a temporary folder, then renamed), so a cached call runs neither Maven nor Java.
 */
export async function resolveCassandraJars(options: ResolveJarsOptions = {}): Promise<CassandraJars> {
  const started = Date.now();
  const version = options.version ?? defaultCassandraVersion;
  assertVersion(version);
  const cacheDir = options.cacheDir ?? defaultCacheDir(options.env);
  const libDir = cassandraLibDir(cacheDir, version);
  const cached = readMarker(libDir);
  if (cached) return { version, libDir, jars: cached.jars, downloaded: false, elapsedMs: Date.now() - started };

  const runner = options.runner ?? processRunner;
  const env = options.env ?? process.env;
  const java = options.java ?? (await findJava(runner, env));
  const mvn = await findMaven(runner, env, java);
  const versionDir = join(cacheDir, "cassandra", version);
  makeDirs(versionDir, "the jar cache");
  options.onProgress?.(`downloading Cassandra ${version} jars from Maven Central (first run only)…`);
  const workDir = join(versionDir, `.resolve-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(workDir);
  try {
    // Maven works on a copy so nothing is written beside the library's sources
    copyFileSync(pomPath, join(workDir, "pom.xml"));
    const stagedLib = join(workDir, "lib");
    const result = await runner.run(
      mvn,
      [
        "-B",
        "-q",
        "--no-transfer-progress",
        "-Dstyle.color=never",
        "-f",
        join(workDir, "pom.xml"),
        `-Dcassandra.version=${version}`,
        `-Ddevenv.libDir=${stagedLib}`,
        // one cache folder for everything devenv downloads; a version bump fetches only the difference
        `-Dmaven.repo.local=${join(cacheDir, "maven", "repository")}`,
        "dependency:copy-dependencies",
      ],
      { cwd: workDir, env: { ...env, JAVA_HOME: java.home, PATH: `${join(java.home, "bin")}${delimiter}${env.PATH ?? ""}` } },
    );
    if (result.exitCode !== 0) {
      throw new CassandraNodeError("maven-failed", `Maven could not fetch Cassandra ${version}: ${mavenError(result.stdout + result.stderr)}`);
    }
    const jars = existsSync(stagedLib) ? readdirSync(stagedLib).filter((name) => name.endsWith(".jar")).sort() : [];
    if (!jars.includes(`cassandra-all-${version}.jar`)) {
      throw new CassandraNodeError("maven-failed", `Maven finished but cassandra-all-${version}.jar is missing from ${stagedLib}`);
    }
    const marker: JarsMarker = { version, jars, resolvedAt: new Date().toISOString() };
    writeFileSync(join(stagedLib, markerName), `${JSON.stringify(marker, null, 2)}\n`);
    try {
      renameSync(stagedLib, libDir);
    } catch (error) {
      // another process finished first: its folder is as good as ours
      if (!readMarker(libDir)) throw error;
    }
    return { version, libDir, jars, downloaded: true, elapsedMs: Date.now() - started };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
    // a version Maven could not fetch leaves no empty folder behind (rmdir keeps a full one)
    try {
      rmdirSync(versionDir);
    } catch {
      // not empty: the jars are there
    }
  }
}

function assertVersion(version: string): void {
  if (!/^\d+\.\d+(\.\d+)?(-[A-Za-z0-9.]+)?$/.test(version)) {
    throw new CassandraNodeError("invalid-options", `invalid Cassandra version "${version}" (expected e.g. ${defaultCassandraVersion})`);
  }
}

function readMarker(libDir: string): JarsMarker | undefined {
  try {
    const value: unknown = JSON.parse(readFileSync(join(libDir, markerName), "utf8"));
    if (typeof value !== "object" || value === null) return undefined;
    const { version, jars, resolvedAt } = value as Record<string, unknown>;
    if (typeof version !== "string" || typeof resolvedAt !== "string" || !Array.isArray(jars)) return undefined;
    return { version, resolvedAt, jars: jars.filter((jar): jar is string => typeof jar === "string") };
  } catch {
    return undefined;
  }
}

async function findMaven(runner: CommandRunner, env: NodeJS.ProcessEnv, java: JavaRuntime): Promise<string> {
  const mvn = env.DEVENV_MVN || "mvn";
  const probe = await runner.run(mvn, ["-v"], { env: { ...env, JAVA_HOME: java.home } });
  if (probe.exitCode !== 0) {
    const where = env.DEVENV_MVN ? `DEVENV_MVN=${mvn}` : "mvn on PATH";
    throw new CassandraNodeError("maven-missing", `Maven not found (${where}): install maven, needed once to fetch the Cassandra jars`);
  }
  return mvn;
}

/** The first [ERROR] line Maven printed: the one that names the cause. */
function mavenError(output: string): string {
  const lines = output.split("\n").map((line) => line.replace(/\x1b\[[0-9;]*m/g, "").trim());
  const error = lines.find((line) => line.startsWith("[ERROR]") && line.length > "[ERROR]".length + 1);
  const text = error ?? lines.filter(Boolean).at(-1) ?? "no output";
  return text.replace(/^\[ERROR\]\s*/, "").slice(0, 400);
}
