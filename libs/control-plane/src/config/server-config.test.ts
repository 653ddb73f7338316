import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "@devenv/core";
import { loadServerSettings, maskedServerSettings, ServerConfigFile, serverConfigJsonSchema, type ServerSettings } from "./server-config.ts";

const example = resolve(import.meta.dirname, "../../../../examples/server.yaml");
const dir = mkdtempSync(join(tmpdir(), "devenv-server-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hexKey = "ab".repeat(32);

function file(name: string, lines: string[]): string {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

/** Today's defaults: what `devenv server` did with no flags and no env. */
const defaults: Omit<ServerSettings, "sourceOf"> = {
  dataDir: "/home/dev/.local/share/devenv/control-plane",
  host: "127.0.0.1",
  port: 7070,
  publicUrl: undefined,
  databaseUrl: undefined,
  blobs: { kind: "local", dir: "/home/dev/.local/share/devenv/control-plane/blobs" },
  urlSigningKey: undefined,
  sources: [],
  slack: undefined,
  reaper: { ttlMs: 12 * 3_600_000, maxTtlMs: 14 * 86_400_000, idleLimitMs: 2 * 3_600_000, warnBeforeMs: 30 * 60_000 },
  quota: { instancesPerUser: undefined },
  jobs: { concurrency: 1, taskConcurrency: 2, pollMs: 1_000, rolloutTimeoutMs: 2 * 3_600_000 },
  intervals: { heartbeatMs: 10_000, maintenanceMs: 60_000, schedulerMs: 15_000, agentSupervisionMs: 2_000 },
  provisioners: { personal: { kind: "local" }, shared: { kind: "local" } },
};

describe("loadServerSettings", () => {
  it("without a config file, equals today's defaults, every value from the defaults", () => {
    const settings = loadServerSettings({ env: { HOME: "/home/dev" } });
    const { sourceOf, ...rest } = settings;
    expect(rest).toEqual(defaults);
    expect(new Set(Object.values(sourceOf))).toEqual(new Set(["default"]));
    expect(Object.keys(sourceOf)).toEqual(Object.keys(defaults));
    expect(loadServerSettings({ env: { HOME: "/home/dev", XDG_DATA_HOME: "/xdg" } }).dataDir).toBe("/xdg/devenv/control-plane");
  });

  it("accepts the example file of the README, resolved", () => {
    const settings = loadServerSettings({ file: example, env: { HOME: "/home/dev", DEVENV_SLACK_SIGNING_SECRET: "slack-secret", AWS_REGION: "ap-south-1" } });
    expect(settings).toEqual({
      ...defaults,
      dataDir: "/var/lib/devenv",
      blobs: { kind: "s3", bucket: "devenv-snapshots", prefix: "prod", region: "ap-south-1", endpoint: undefined },
      sources: [{ name: "production", contactPoints: ["10.0.1.5:9042"], keyspace: "leads", rules: "/etc/devenv/leads-rules.yaml", localDataCenter: "datacenter1" }],
      slack: { signingSecret: "slack-secret", teamId: "T0A1B2C3D" },
      reaper: { ...defaults.reaper, warnBeforeMs: 15 * 60_000 },
      quota: { instancesPerUser: 2 },
      provisioners: {
        personal: {
          kind: "ec2",
          region: "ap-south-1",
          launchTemplate: "devenv-agent",
          instanceTypes: ["r6i.large", "r5.large"],
          market: "spot",
          fallback: "on-demand",
          subnets: ["subnet-0abc", "subnet-0def"],
          tags: { team: "platform" },
          fleet: "default",
          cassandraDataDir: "/var/lib/cassandra",
        },
        shared: { kind: "static", hosts: [{ name: "shared-1", address: "10.0.3.7", port: 9042 }] },
      },
      sourceOf: expect.objectContaining({ dataDir: `${example}:1:10`, blobs: `${example}:2:8`, provisioners: `${example}:14:3`, port: "default" }),
    });
  });

  it("lets flags, then env, override the file; the file comes from --config or DEVENV_SERVER_CONFIG", () => {
    const path = file("override/server.yaml", ["dataDir: data", "port: 7000", "host: 0.0.0.0", "publicUrl: https://devenv.example.com"]);
    const env = { HOME: "/h", DEVENV_SERVER_CONFIG: path, DEVENV_PORT: "7001", DEVENV_DATABASE_URL: "postgres://cp@db/devenv" };
    const settings = loadServerSettings({ env, flags: { port: "7002", dataDir: undefined } });
    expect(settings).toMatchObject({ dataDir: join(dir, "override", "data"), port: 7002, host: "0.0.0.0", publicUrl: "https://devenv.example.com", databaseUrl: "postgres://cp@db/devenv" });
    expect(settings.sourceOf).toMatchObject({ dataDir: `${path}:1:10`, port: "flag --port", host: `${path}:3:7`, databaseUrl: "env DEVENV_DATABASE_URL" });
    expect(loadServerSettings({ env: { ...env, DEVENV_DATA_DIR: "relative" } }).dataDir).toBe(resolve("relative"));
    const other = file("other.yaml", ["port: 9000"]);
    expect(loadServerSettings({ file: other, env: { HOME: "/h", DEVENV_SERVER_CONFIG: path } }).port).toBe(9000);
    expect(() => loadServerSettings({ file: join(dir, "absent.yaml"), env: {} })).toThrow(`config file not found: ${join(dir, "absent.yaml")}`);
  });

  it("takes blobs as a directory (relative to the file), s3://bucket/prefix, or { location, region, endpoint }", () => {
    const local = file("blobs/local.yaml", ["blobs: ./store"]);
    expect(loadServerSettings({ file: local, env: {} }).blobs).toEqual({ kind: "local", dir: join(dir, "blobs", "store") });
    const s3 = file("blobs/s3.yaml", ["blobs: { location: 's3://snapshots/dev/nightly', region: eu-west-1, endpoint: 'http://127.0.0.1:5000' }"]);
    expect(loadServerSettings({ file: s3, env: { AWS_REGION: "us-west-2" } }).blobs).toEqual({ kind: "s3", bucket: "snapshots", prefix: "dev/nightly", region: "eu-west-1", endpoint: "http://127.0.0.1:5000" });
    expect(loadServerSettings({ env: { AWS_DEFAULT_REGION: "us-west-2", AWS_ENDPOINT_URL: "http://moto:5000" }, flags: { blobs: "s3://snapshots" } }).blobs).toEqual({
      kind: "s3",
      bucket: "snapshots",
      prefix: "",
      region: "us-west-2",
      endpoint: "http://moto:5000",
    });
    const wrong = file("blobs/wrong.yaml", ["blobs:", "  location: /srv/blobs", "  region: eu-west-1"]);
    expect(problemsOf(() => loadServerSettings({ file: wrong, env: {} }))).toEqual([`${wrong}:2:13: blobs.location: region and endpoint are for s3:// locations`]);
    expect(problemsOf(() => loadServerSettings({ env: { DEVENV_BLOBS: "s3:///prefix" } }))).toEqual(["env DEVENV_BLOBS: blobs: expected s3://bucket/prefix with a valid bucket name"]);
  });

  it("reads secrets from the environment or a file, keeps DEVENV_URL_SIGNING_KEY working, and refuses inline secrets", () => {
    const keyFile = file("secrets/url-signing.key", [hexKey]);
    chmodSync(keyFile, 0o600);
    const slackFile = file("secrets/slack", ["from-file"]);
    chmodSync(slackFile, 0o644);
    const path = file("secrets/server.yaml", ["urlSigningKey: { file: url-signing.key }", "slack: { signingSecret: { file: slack } }", "databaseUrl: { env: CATALOGUE_URL }"]);
    const warnings: string[] = [];
    const settings = loadServerSettings({ file: path, env: { CATALOGUE_URL: "postgres://cp:pw@db/devenv" }, warn: (warning) => warnings.push(warning) });
    expect(settings).toMatchObject({ urlSigningKey: hexKey, slack: { signingSecret: "from-file", teamId: undefined }, databaseUrl: "postgres://cp:pw@db/devenv" });
    expect(warnings).toEqual([`the secret file ${slackFile} is readable by group or others (mode 0644); chmod 600 it`]);

    expect(loadServerSettings({ file: path, env: { CATALOGUE_URL: "postgres://db/devenv", DEVENV_URL_SIGNING_KEY: "cd".repeat(32) } }).urlSigningKey).toBe("cd".repeat(32));
    expect(problemsOf(() => loadServerSettings({ env: { DEVENV_URL_SIGNING_KEY: "short" } }))).toEqual(["env DEVENV_URL_SIGNING_KEY: urlSigningKey: expected at least 64 hex digits (openssl rand -hex 32)"]);

    const inline = file("secrets/inline.yaml", ["slack:", `  signingSecret: 8f14e45fceea167a`]);
    expect(problemsOf(() => loadServerSettings({ file: inline, env: {} }))).toEqual([
      `${inline}:2:18: slack.signingSecret: put secrets in the environment ({ env: NAME }) or a file ({ file: PATH }), never inline`,
    ]);
    expect(problemsOf(() => loadServerSettings({ file: path, env: {} }))).toEqual([`${path}:3:14: databaseUrl: the environment variable CATALOGUE_URL is not set (it should hold the secret)`]);
    expect(problemsOf(() => loadServerSettings({ file: path, env: { CATALOGUE_URL: "mysql://db" } }))).toEqual([
      `${path}:3:14: databaseUrl: the referenced value: store url mysql://db: only sqlite: and postgres:// urls (or a file path) are supported`,
    ]);
  });

  it("turns Slack on from DEVENV_SLACK_SIGNING_SECRET alone, as before the config file", () => {
    const settings = loadServerSettings({ env: { DEVENV_SLACK_SIGNING_SECRET: " s3cr3t\n" } });
    expect(settings.slack).toEqual({ signingSecret: "s3cr3t", teamId: undefined });
    expect(settings.sourceOf.slack).toBe("env DEVENV_SLACK_SIGNING_SECRET");
  });

  it("keeps sources in file order with rules relative to the file", () => {
    const path = file("sources/server.yaml", [
      "sources:",
      "  staging: { contactPoints: ['[::1]:9042', cassandra.staging], keyspace: leads_staging, rules: rules/staging.yaml, localDataCenter: dc2 }",
      "  production: { contactPoints: [10.0.1.5:9042], keyspace: leads, rules: /etc/devenv/leads-rules.yaml }",
    ]);
    expect(loadServerSettings({ file: path, env: {} }).sources).toEqual([
      { name: "staging", contactPoints: ["[::1]:9042", "cassandra.staging"], keyspace: "leads_staging", rules: join(dir, "sources", "rules", "staging.yaml"), localDataCenter: "dc2" },
      { name: "production", contactPoints: ["10.0.1.5:9042"], keyspace: "leads", rules: "/etc/devenv/leads-rules.yaml", localDataCenter: "datacenter1" },
    ]);
  });

  it("lists every wrong setting with its file, line and field", () => {
    const path = file("wrong.yaml", [
      "port: 70000", //                                     1
      "reaper: { ttl: 1h, idleLimit: 2 hours }", //          2
      "intervals: { heartbeat: 0s, maintenance: 0s }", //    3
      "sources:", //                                         4
      "  production:", //                                    5
      "    contactPoints: []", //                            6
      "    rules: rules.yaml", //                            7
      "provisioners:", //                                    8
      "  personal:", //                                      9
      "    kind: ec2", //                                    10
      "    launchTemplate: devenv-agent", //                 11
      "    market: spots", //                                12
      "  shared:", //                                        13
      "    kind: static", //                                 14
      "    hosts:", //                                       15
      "      - { name: shared-1, adress: 10.0.3.7 }", //     16
      "qouta: { instancesPerUser: 2 }", //                   17
    ]);
    expect(problemsOf(() => loadServerSettings({ file: path, env: {}, flags: { host: "" } }))).toEqual([
      `${path}:1:7: port: Too big: expected number to be <=65535`,
      `${path}:2:31: reaper.idleLimit: expected a duration such as 90s, 15m, 2h or 14d (or a number of milliseconds)`,
      `${path}:3:25: intervals.heartbeat: expected a duration longer than 0`,
      `${path}:5:3: sources.production.keyspace: missing`,
      `${path}:6:20: sources.production.contactPoints: give at least one contact point (HOST:PORT)`,
      `${path}:9:3: provisioners.personal.region: missing`,
      `${path}:12:13: provisioners.personal.market: Invalid option: expected one of "spot"|"on-demand"`,
      `${path}:16:9: provisioners.shared.hosts[0].address: missing`,
      `${path}:16:27: provisioners.shared.hosts[0].adress: unknown key`,
      `${path}:17:1: qouta: unknown key`,
    ]);
    const tooLong = file("too-long.yaml", ["reaper: { ttl: 20d }"]);
    expect(problemsOf(() => loadServerSettings({ file: tooLong, env: {} }))).toEqual([`${tooLong}:1:16: reaper.ttl: longer than maxTtl`]);
  });

  it("masks every secret for printing", () => {
    const settings = loadServerSettings({
      env: { DEVENV_URL_SIGNING_KEY: hexKey, DEVENV_SLACK_SIGNING_SECRET: "slack", DEVENV_DATABASE_URL: "postgres://cp:hunter2@db:5432/devenv" },
    });
    const masked = maskedServerSettings(settings);
    expect(masked).toMatchObject({ urlSigningKey: "********", slack: { signingSecret: "********" }, databaseUrl: "postgres://cp:********@db:5432/devenv" });
    expect(JSON.stringify(masked)).not.toMatch(/hunter2|:"slack"|abab/);
  });
});

describe("serverConfigJsonSchema", () => {
  it("describes every top-level setting, none required, unknown keys refused", () => {
    const schema = serverConfigJsonSchema();
    expect(schema).toMatchObject({ type: "object", additionalProperties: false, title: "devenv control plane configuration" });
    expect(Object.keys(schema.properties as object)).toEqual(Object.keys(ServerConfigFile.shape));
    expect(schema.required).toBeUndefined();
    expect(JSON.stringify(schema)).toContain('"default":"12h"');
  });
});
