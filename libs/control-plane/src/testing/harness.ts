import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pg from "pg";
import { pino } from "pino";
import { services, uniqueName } from "@devenv/testing";
import { ManualClock } from "@devenv/core/testing";
import type { Instance, Snapshot, Store, User } from "@devenv/store";
import { createApiClient, type ApiClient } from "@devenv/api";
import { RecordingProvisioner } from "@devenv/fleet/testing";
import { startControlPlane, type ControlPlaneRuntime, type RunningControlPlane } from "../control-plane.ts";
import type { ServerSettings } from "../config/server-config.ts";

/** Collects what the server prints on stdout (the first-run admin token). */
export class CapturedOutput extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.text += chunk.toString("utf8");
    done();
  }
  adminToken(): string | undefined {
    return /Admin token \(shown once, keep it safe\): (\S+)/.exec(this.text)?.[1];
  }
}

/** The embedded defaults for a test: SQLite and blobs in `dataDir`, local provisioners, loops off or fast. */
export function testSettings(dataDir: string, overrides: Partial<ServerSettings> = {}): ServerSettings {
  return {
    dataDir,
    host: "127.0.0.1",
    port: 0,
    publicUrl: undefined,
    databaseUrl: undefined,
    blobs: { kind: "local", dir: join(dataDir, "blobs") },
    urlSigningKey: undefined,
    sources: [],
    slack: undefined,
    reaper: { ttlMs: 12 * 3_600_000, maxTtlMs: 14 * 24 * 3_600_000, idleLimitMs: 2 * 3_600_000, warnBeforeMs: 30 * 60_000 },
    quota: { instancesPerUser: undefined },
    // the tests drive the job queue themselves
    jobs: { concurrency: 0, taskConcurrency: 2, pollMs: 1_000, rolloutTimeoutMs: 2 * 3_600_000 },
    intervals: { heartbeatMs: 500, maintenanceMs: 0, schedulerMs: 15_000, agentSupervisionMs: 0 },
    provisioners: { personal: { kind: "local" }, shared: { kind: "local" } },
    sourceOf: {},
    ...overrides,
  };
}

export type Dialect = "sqlite" | "postgres";

/** A fresh database for a dialect: undefined (SQLite in the data dir) or a new PostgreSQL database, dropped by `drop`. */
export async function freshDatabase(dialect: Dialect): Promise<{ url: string | undefined; drop(): Promise<void> }> {
  if (dialect === "sqlite") return { url: undefined, drop: async () => {} };
  const name = uniqueName("api");
  const admin = new pg.Client({ connectionString: services().postgres.url });
  await admin.connect();
  await admin.query(`create database ${admin.escapeIdentifier(name)}`);
  await admin.end();
  const url = new URL(services().postgres.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: services().postgres.url });
      await client.connect();
      await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
      await client.end();
    },
  };
}

export interface ServerFixture {
  dataDir: string;
  databaseUrl: string | undefined;
  clock: ManualClock;
  provisioner: RecordingProvisioner;
  plane: RunningControlPlane;
  /** ws://…/agent, where test agents connect. */
  agentUrl: string;
  output: CapturedOutput;
  store: Store;
  adminToken: string;
  client(token?: string): ApiClient;
  /** Starts the server again on the same data dir and database (after `plane.close()`). */
  restart(): Promise<CapturedOutput>;
  cleanup(): Promise<void>;
}

/**
 * The whole control plane (the shipped composition root) on a random port over a temp data
 * dir, with a test clock and a recording provisioner in place of hosts.
 */
export async function startTestServer(
  options: { dialect?: Dialect; settings?: Partial<ServerSettings>; runtime?: Partial<ControlPlaneRuntime> } = {},
): Promise<ServerFixture> {
  const dataDir = mkdtempSync(join(tmpdir(), "devenv-control-plane-test-"));
  const database = await freshDatabase(options.dialect ?? "sqlite");
  const clock = new ManualClock("2026-11-25T10:00:00.000Z");
  const provisioner = new RecordingProvisioner();
  const start = async (output: CapturedOutput) =>
    startControlPlane(testSettings(dataDir, { databaseUrl: database.url, ...options.settings }), {
      clock,
      provisioners: { byKind: { local: provisioner }, forInstanceKind: () => provisioner },
      out: output,
      logger: pino({ level: "silent" }),
      ...options.runtime,
    });
  const output = new CapturedOutput();
  const fixture: ServerFixture = {
    dataDir,
    databaseUrl: database.url,
    clock,
    provisioner,
    output,
    plane: await start(output),
    get agentUrl() {
      return `${fixture.plane.url.replace(/^http/, "ws")}/agent`;
    },
    get store() {
      return fixture.plane.store;
    },
    adminToken: "",
    client: (token) => createApiClient({ url: fixture.plane.url, token }),
    async restart() {
      const again = new CapturedOutput();
      fixture.plane = await start(again);
      return again;
    },
    async cleanup() {
      await fixture.plane.close();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const token = output.adminToken();
  if (token === undefined) throw new Error(`no admin token printed on first run: ${output.text}`);
  fixture.adminToken = token;
  return fixture;
}

/** The people (and one agent) the authorisation tests act as. */
export interface Cast {
  developer: { user: User; token: string };
  otherDeveloper: { user: User; token: string };
  ops: { user: User; token: string };
  admin: { token: string };
  agentCredential: string;
  readySnapshot: Snapshot;
}

export async function createCast(fixture: ServerFixture): Promise<Cast> {
  const admin = fixture.client(fixture.adminToken);
  const make = async (name: string, role: "developer" | "ops") => {
    const { user, token } = await admin.auth.users.create.mutate({ name: uniqueName(name), role });
    return { user, token: token.plaintext };
  };
  const developer = await make("dev", "developer");
  const otherDeveloper = await make("other", "developer");
  const ops = await make("ops", "ops");
  const host = await fixture.store.instances.create({ ownerId: developer.user.id, kind: "personal", provisioner: "static" });
  const { credential } = await fixture.store.agents.register(host.id, { identity: { hostname: "agent-host" }, version: "1.0.0" });
  const readySnapshot = await readySnapshotIn(fixture.store);
  return { developer, otherDeveloper, ops, admin: { token: fixture.adminToken }, agentCredential: credential, readySnapshot };
}

export async function readySnapshotIn(store: Store, id = uniqueName("snap")): Promise<Snapshot> {
  return store.snapshots.create({ id, location: "test", sourceDescription: "test fixture", status: "ready", sizeBytes: 10, rows: 1, tablesCount: 1 });
}

export async function instanceOf(store: Store, owner: User): Promise<Instance> {
  return store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "static", ttlExpiresAt: new Date(Date.parse("2026-11-25T12:00:00.000Z")) });
}

/** A valid shrink job payload (nothing runs it in these tests). */
export const shrinkPayload = {
  source: { contactPoints: ["127.0.0.1:9042"], keyspace: "prod" },
  rulesFile: "/etc/devenv/rules.yaml",
};
