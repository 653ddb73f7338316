import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { processRunner } from "./command-runner.ts";
import { CassandraNodeError } from "./errors.ts";
import { findJava } from "./java.ts";

const scratch = mkdtempSync(join(tmpdir(), "devenv-java-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("findJava", () => {
  it("finds this machine's Java 17", async () => {
    const java = await findJava(processRunner, process.env);
    expect(java.major).toBe(17);
  });

  it("says what to install when DEVENV_JAVA points nowhere", async () => {
    const error = await findJava(processRunner, { ...process.env, DEVENV_JAVA: "/nonexistent/java" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CassandraNodeError);
    expect(error).toMatchObject({ code: "java-missing", cliCode: "unavailable" });
    expect((error as Error).message).toBe(
      "Java not found at DEVENV_JAVA=/nonexistent/java: install openjdk-17-jdk-headless (or set DEVENV_JAVA to a Java 17 binary)",
    );
  });

  it("refuses a Java that Cassandra 5.0 cannot run on", async () => {
    const java21 = join(scratch, "java21");
    writeFileSync(java21, `#!/bin/sh\necho 'openjdk version "21.0.2" 2024-01-16' >&2\n`);
    chmodSync(java21, 0o755);
    const error = await findJava(processRunner, { ...process.env, DEVENV_JAVA: java21 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "java-missing" });
    expect((error as Error).message).toContain("is Java 21; Cassandra 5.0 needs Java 17");
  });
});
