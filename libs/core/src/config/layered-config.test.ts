import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError } from "./config-error.ts";
import { Duration } from "./duration.ts";
import { loadLayeredConfig } from "./layered-config.ts";
import { SecretRef } from "./secret-ref.ts";

const dir = mkdtempSync(join(tmpdir(), "devenv-layered-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const Settings = z.strictObject({
  dataDir: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65_535).default(7070),
  token: SecretRef.optional(),
  reaper: z.strictObject({ ttl: Duration.prefault("12h"), idleLimit: Duration.prefault("2h") }).prefault({}),
  sources: z
    .record(z.string().regex(/^[a-z]+$/, "expected a lowercase name"), z.strictObject({ contactPoints: z.array(z.string().regex(/^[^:]+:\d+$/, "expected HOST:PORT")).min(1), keyspace: z.string() }))
    .default({}),
  hosts: z.array(z.strictObject({ name: z.string(), address: z.string() })).default([]),
});

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("loadLayeredConfig", () => {
  it("takes flags over env over the file over defaults, and says where each top-level value came from", () => {
    const path = file("precedence.yaml", "dataDir: /from/file\nport: 8000\nreaper: { ttl: 1h }\n");
    const loaded = loadLayeredConfig({
      schema: Settings,
      file: { path, required: true },
      env: { values: { DEVENV_PORT: "8001", DEVENV_DATA_DIR: "" }, vars: { port: "DEVENV_PORT", dataDir: "DEVENV_DATA_DIR" } },
      flags: { values: { port: "8002", dataDir: undefined } },
      defaults: { dataDir: "/from/default" },
    });
    expect(loaded.value).toEqual({ dataDir: "/from/file", port: 8002, reaper: { ttl: 3_600_000, idleLimit: 7_200_000 }, sources: {}, hosts: [] });
    expect(loaded.sourceOf).toEqual({ dataDir: `${path}:1:10`, port: "flag --port", reaper: `${path}:3:9`, sources: "default", hosts: "default" });

    const withoutFlag = loadLayeredConfig({ schema: Settings, file: { path, required: true }, env: { values: { DEVENV_PORT: "8001" }, vars: { port: "DEVENV_PORT" } } });
    expect(withoutFlag.value.port).toBe(8001);
    expect(withoutFlag.sourceOf.port).toBe("env DEVENV_PORT");
  });

  it("uses the defaults when the optional file is absent, and fails when a required one is", () => {
    const absent = join(dir, "absent.yaml");
    const loaded = loadLayeredConfig({ schema: Settings, file: { path: absent, required: false }, defaults: { dataDir: "/home/dev/data" } });
    expect(loaded.value).toMatchObject({ dataDir: "/home/dev/data", port: 7070 });
    expect(loaded.sourceOf).toMatchObject({ dataDir: "default", port: "default" });
    expect(() => loadLayeredConfig({ schema: Settings, file: { path: absent, required: true } })).toThrow(`config file not found: ${absent}`);
  });

  it("names file, line and column of nested fields, list items and map entries", () => {
    const path = file(
      "nested.yaml",
      [
        "dataDir: /data", //                                   1
        "reaper:", //                                          2
        "  ttl: 12x", //                                       3
        "sources:", //                                         4
        "  production:", //                                    5
        "    contactPoints: [10.0.1.5:9042, nowhere]", //      6
        "    keyspace: leads", //                              7
        "hosts:", //                                           8
        "  - { name: shared-1, address: 10.0.3.7 }", //        9
        "  - { name: shared-2, address: [1] }", //             10
      ].join("\n"),
    );
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, file: { path, required: true } }))).toEqual([
      `${path}:3:8: reaper.ttl: expected a duration such as 90s, 15m, 2h or 14d (or a number of milliseconds)`,
      `${path}:6:36: sources.production.contactPoints[1]: expected HOST:PORT`,
      `${path}:10:32: hosts[1].address: Invalid input: expected string, received array`,
    ]);
  });

  it("points a missing key at the line naming the mapping that lacks it, and an unknown key at itself", () => {
    const path = file(
      "missing.yaml",
      [
        "dataDir: /data", //                  1
        "sources:", //                        2
        "  production:", //                   3
        "    contactPoints: [db:9042]", //    4
        "  Staging:", //                      5
        "    contactPoints: [db:9042]", //    6
        "    keyspace: leads", //             7
        "hosts:", //                          8
        "  - name: shared-1", //              9
        "reapr: { ttl: 1h }", //              10
      ].join("\n"),
    );
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, file: { path, required: true } }))).toEqual([
      `${path}:3:3: sources.production.keyspace: missing`,
      `${path}:5:3: sources.Staging: expected a lowercase name`,
      `${path}:9:5: hosts[0].address: missing`,
      `${path}:10:1: reapr: unknown key`,
    ]);
  });

  it("names the env var, the flag or the default a wrong value came from, and how to give a missing one", () => {
    const env = { values: { DEVENV_PORT: "http" }, vars: { port: "DEVENV_PORT", dataDir: "DEVENV_DATA_DIR" } } as const;
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, env, defaults: { dataDir: "/d" } }))).toEqual([
      "env DEVENV_PORT: port: Invalid input: expected number, received NaN",
    ]);
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, flags: { values: { port: "70000" } }, defaults: { dataDir: "/d" } }))).toEqual([
      "flag --port: port: Too big: expected number to be <=65535",
    ]);
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, defaults: { dataDir: "" } }))).toEqual(["default: dataDir: Too small: expected string to have >=1 characters"]);
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, env: { values: {}, vars: { dataDir: "DEVENV_DATA_DIR" } }, flags: { values: { dataDir: undefined } }, file: { path: join(dir, "none.yaml"), required: false } }))).toEqual([
      `not set: dataDir: missing: give --data-dir, DEVENV_DATA_DIR or "dataDir" in ${join(dir, "none.yaml")}`,
    ]);
  });

  it("lists every problem of every layer at once", () => {
    const path = file("many.yaml", "reaper: { idleLimit: soon }\n");
    const problems = problemsOf(() => loadLayeredConfig({ schema: Settings, file: { path, required: true }, flags: { values: { port: "-1" } } }));
    // the file's problems come last, in the file's order
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/^not set: dataDir: missing/);
    expect(problems[1]).toMatch(/^flag --port: port: Too small/);
    expect(problems[2]).toMatch(`${path}:1:22: reaper.idleLimit: expected a duration`);
  });

  it("reads a secret variable as a reference to it, so the secret never lands in the settings", () => {
    const loaded = loadLayeredConfig({ schema: Settings, env: { values: { DEVENV_TOKEN: "s3cr3t" }, secrets: { token: "DEVENV_TOKEN" } }, defaults: { dataDir: "/d" } });
    expect(loaded.value.token).toEqual({ env: "DEVENV_TOKEN" });
    expect(loaded.sourceOf.token).toBe("env DEVENV_TOKEN");
    const path = file("inline-secret.yaml", "dataDir: /d\ntoken: s3cr3t\n");
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, file: { path, required: true } }))).toEqual([
      `${path}:2:8: token: put secrets in the environment ({ env: NAME }) or a file ({ file: PATH }), never inline`,
    ]);
  });

  it("reads JSON files, and reports syntax errors and a top level that is not a mapping with their line", () => {
    const json = file("agent.json", JSON.stringify({ dataDir: "/json", hosts: [{ name: "a", address: "b" }] }, null, "\t"));
    expect(loadLayeredConfig({ schema: Settings, file: { path: json, required: true } }).value).toMatchObject({ dataDir: "/json", hosts: [{ name: "a", address: "b" }] });
    const duplicate = file("duplicate.yaml", "dataDir: /a\nport: 1\ndataDir: /b\n");
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, file: { path: duplicate, required: true } }))).toEqual([`${duplicate}:3:1: Map keys must be unique`]);
    const list = file("list.yaml", "- dataDir: /a\n");
    expect(problemsOf(() => loadLayeredConfig({ schema: Settings, file: { path: list, required: true } }))).toEqual([
      `${list}:1:1: expected a mapping of settings (key: value lines) at the top of the file`,
    ]);
    const empty = file("empty.yaml", "# nothing yet\n");
    expect(loadLayeredConfig({ schema: Settings, file: { path: empty, required: true }, defaults: { dataDir: "/d" } }).value.port).toBe(7070);
  });

  it("locates problems found after parsing like the schema's own", () => {
    const path = file("after.yaml", "dataDir: /d\ntoken: { env: DEVENV_ABSENT }\n");
    const loaded = loadLayeredConfig({ schema: Settings, file: { path, required: true }, flags: { values: { port: "1" } } });
    expect(loaded.problemAt(["token"], "the environment variable DEVENV_ABSENT is not set")).toBe(`${path}:2:8: token: the environment variable DEVENV_ABSENT is not set`);
    expect(loaded.problemAt(["port"], "taken")).toBe("flag --port: port: taken");
    expect(loaded.problemAt(["reaper", "ttl"], "too long")).toBe("default: reaper.ttl: too long");
  });
});
