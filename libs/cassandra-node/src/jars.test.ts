import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processRunner, type CommandRunner } from "./command-runner.ts";
import { CassandraNodeError } from "./errors.ts";
import { resolveCassandraJars } from "./jars.ts";

const scratch = mkdtempSync(join(tmpdir(), "devenv-jars-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The real runner, recording each command it runs. */
function recordingRunner(): CommandRunner & { commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    run: (command, args, options) => {
      commands.push([command, ...args].join(" "));
      return processRunner.run(command, args, options);
    },
  };
}

describe("resolveCassandraJars", () => {
  it("runs neither Maven nor Java once the jars are cached", async () => {
    // the run's shared cache: the test services' node already needed these jars
    const first = await resolveCassandraJars({ runner: recordingRunner() });
    const runner = recordingRunner();
    const second = await resolveCassandraJars({ runner });
    expect(runner.commands).toEqual([]);
    expect(second).toMatchObject({ downloaded: false, libDir: first.libDir, version: first.version });
    expect(second.jars).toContain(`cassandra-all-${second.version}.jar`);
    expect(existsSync(join(second.libDir, `cassandra-all-${second.version}.jar`))).toBe(true);
    expect(second.elapsedMs).toBeLessThan(1_000);
  });

  it("reports Maven's own reason in one line and leaves no half-filled folder", async () => {
    const cacheDir = join(scratch, "maven-fails");
    const mavenError =
      "[ERROR] Failed to execute goal on project cassandra-jars: Could not resolve dependencies for project dev.devenv:cassandra-jars:pom:1: " +
      "Could not find artifact org.apache.cassandra:cassandra-all:jar:5.0.99 in central (https://repo.maven.apache.org/maven2)";
    const runner: CommandRunner = {
      run: async (command, args, options) =>
        args.includes("dependency:copy-dependencies")
          ? { exitCode: 1, stdout: `${mavenError}\n[ERROR] \n[ERROR] Re-run Maven using the -X switch\n`, stderr: "" }
          : processRunner.run(command, args, options),
    };
    const error = await resolveCassandraJars({ version: "5.0.99", cacheDir, runner }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CassandraNodeError);
    expect(error).toMatchObject({ code: "maven-failed", cliCode: "failed" });
    expect((error as Error).message).toMatch(/^Maven could not fetch Cassandra 5\.0\.99: Failed to execute goal .*Could not find artifact/);
    expect((error as Error).message).not.toContain("\n");
    expect(existsSync(join(cacheDir, "cassandra", "5.0.99"))).toBe(false);
  });

  it("says to install Maven when there is none", async () => {
    const error = await resolveCassandraJars({
      cacheDir: join(scratch, "no-maven"),
      env: { ...process.env, DEVENV_MVN: "/nonexistent/mvn" },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "maven-missing", cliCode: "unavailable" });
    expect((error as Error).message).toBe(
      "Maven not found (DEVENV_MVN=/nonexistent/mvn): install maven, needed once to fetch the Cassandra jars",
    );
  });

  it("rejects a version that is not one", async () => {
    const error = await resolveCassandraJars({ version: "5.0.9/../../etc", cacheDir: scratch }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "invalid-options", cliCode: "usage" });
  });
});
