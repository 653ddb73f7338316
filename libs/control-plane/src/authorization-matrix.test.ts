import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { uniqueName } from "@devenv/testing";
import type { ApiProcedurePath } from "@devenv/protocol";
import { apiProcedurePaths } from "@devenv/protocol";
import { callByPath, outcomeOf, type Outcome } from "./testing/calls.ts";
import { createCast, instanceOf, readySnapshotIn, shrinkPayload, startTestServer, type Cast, type Dialect, type ServerFixture } from "./testing/harness.ts";

const callers = ["anonymous", "agent", "developer", "otherDeveloper", "ops", "admin"] as const;
type Caller = (typeof callers)[number];

const U = "unauthorized";
const F = "forbidden";
const N = "not-found";

/**
 * Every procedure × every caller. The resources a procedure acts on belong to
 * `developer`; `otherDeveloper` is another developer. Columns in `callers` order:
 *                                  anonymous agent developer otherDeveloper ops admin
 */
const matrix: Record<ApiProcedurePath, readonly [Outcome, Outcome, Outcome, Outcome, Outcome, Outcome]> = {
  "auth.whoami": /*           */ [U, U, "ok", "ok", "ok", "ok"],
  "auth.tokens.list": /*      */ [U, U, "ok", "ok", "ok", "ok"],
  "auth.tokens.create": /*    */ [U, U, "ok", "ok", "ok", "ok"],
  "auth.tokens.revoke": /*    */ [U, U, "ok", N, N, "ok"],
  "auth.users.list": /*       */ [U, U, F, F, F, "ok"],
  "auth.users.create": /*     */ [U, U, F, F, F, "ok"],
  "snapshots.list": /*        */ [U, U, "ok", "ok", "ok", "ok"],
  "snapshots.show": /*        */ [U, U, "ok", "ok", "ok", "ok"],
  "snapshots.create": /*      */ [U, U, F, F, "ok", "ok"],
  "snapshots.delete": /*      */ [U, U, F, F, F, "ok"],
  "snapshots.pin": /*         */ [U, U, F, F, "ok", "ok"],
  "snapshots.unpin": /*       */ [U, U, F, F, "ok", "ok"],
  "instances.list": /*        */ [U, U, "ok", "ok", "ok", "ok"],
  "instances.show": /*        */ [U, U, "ok", N, "ok", "ok"],
  "instances.up": /*          */ [U, U, "ok", "ok", "ok", "ok"],
  "instances.down": /*        */ [U, U, "ok", N, F, "ok"],
  "instances.extendTtl": /*   */ [U, U, "ok", N, F, "ok"],
  "instances.assign": /*      */ [U, U, "ok", N, "ok", "ok"],
  "fleet.overview": /*        */ [U, U, F, F, "ok", "ok"],
  "fleet.cost": /*            */ [U, U, F, F, "ok", "ok"],
  "jobs.list": /*             */ [U, U, F, F, "ok", "ok"],
  "jobs.show": /*             */ [U, U, F, F, "ok", "ok"],
  "jobs.cancel": /*           */ [U, U, F, F, "ok", "ok"],
  "schedules.list": /*        */ [U, U, F, F, "ok", "ok"],
  "schedules.set": /*         */ [U, U, F, F, F, "ok"],
};

/** A valid input for each procedure; fresh resources per call, so one call's effect never decides another's outcome. */
async function inputFor(path: ApiProcedurePath, fixture: ServerFixture, cast: Cast): Promise<unknown> {
  const store = fixture.store;
  switch (path) {
    case "auth.whoami":
    case "auth.users.list":
    case "fleet.overview":
    case "schedules.list":
      return undefined;
    case "auth.tokens.list":
    case "snapshots.list":
    case "instances.list":
    case "jobs.list":
      return {};
    case "fleet.cost":
      return { from: "2026-01-01T00:00:00Z" };
    case "auth.tokens.create":
      return { name: "laptop", expiresInDays: 30 };
    case "auth.tokens.revoke":
      return { id: (await store.tokens.create({ userId: cast.developer.user.id, name: "spare" })).token.id };
    case "auth.users.create":
      return { name: uniqueName("new"), role: "developer" };
    case "snapshots.show":
      return { id: cast.readySnapshot.id };
    case "snapshots.create":
      return { shrink: shrinkPayload };
    case "snapshots.delete":
    case "snapshots.pin":
    case "snapshots.unpin":
      return { id: (await readySnapshotIn(store)).id };
    case "instances.show":
    case "instances.down":
      return { id: (await instanceOf(store, cast.developer.user)).id };
    case "instances.extendTtl":
      return { id: (await instanceOf(store, cast.developer.user)).id, hours: 2 };
    case "instances.assign":
      return { id: (await instanceOf(store, cast.developer.user)).id, snapshotId: cast.readySnapshot.id };
    case "instances.up":
      return { kind: "personal", snapshotId: cast.readySnapshot.id, ttlHours: 4 };
    case "jobs.show":
    case "jobs.cancel":
      return { id: (await store.jobs.enqueue({ kind: "shrink", payload: shrinkPayload })).id };
    case "schedules.set":
      return { name: uniqueName("nightly").replace(/_/g, "-"), cron: "0 2 * * *", timezone: "Europe/Berlin", kind: "shrink", payload: shrinkPayload };
  }
}

function tokenOf(caller: Caller, cast: Cast): string | undefined {
  switch (caller) {
    case "anonymous":
      return undefined;
    case "agent":
      return cast.agentCredential;
    case "admin":
      return cast.admin.token;
    case "developer":
    case "otherDeveloper":
    case "ops":
      return cast[caller].token;
  }
}

const httpStatusOf: Record<Outcome, number | undefined> = {
  ok: undefined,
  "bad-request": 400,
  unauthorized: 401,
  forbidden: 403,
  "not-found": 404,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

describe.each<Dialect>(["sqlite", "postgres"])("authorisation matrix on %s", (dialect) => {
  let fixture: ServerFixture;
  let cast: Cast;

  beforeAll(async () => {
    fixture = await startTestServer({ dialect });
    cast = await createCast(fixture);
  });
  afterAll(async () => fixture?.cleanup());

  it("covers every procedure of the catalogue", () => {
    expect(Object.keys(matrix).sort()).toEqual([...apiProcedurePaths].sort());
  });

  it("every role gets the documented outcome from every procedure", async () => {
    const mismatches: string[] = [];
    for (const path of apiProcedurePaths) {
      for (const [column, caller] of callers.entries()) {
        const expected = matrix[path][column]!;
        const input = await inputFor(path, fixture, cast);
        const got = await outcomeOf(callByPath(fixture.client(tokenOf(caller, cast)), path, input));
        if (got.outcome !== expected) mismatches.push(`${path} as ${caller}: expected ${expected}, got ${got.outcome} (${got.message ?? ""})`);
        else if (expected !== "ok" && got.httpStatus !== httpStatusOf[expected]) mismatches.push(`${path} as ${caller}: HTTP ${got.httpStatus}, expected ${httpStatusOf[expected]}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("a developer's list holds only their own instances; asking for another's is forbidden", async () => {
    const mine = await instanceOf(fixture.store, cast.developer.user);
    const theirs = await instanceOf(fixture.store, cast.otherDeveloper.user);
    const developer = fixture.client(cast.developer.token);
    const ids = (await developer.instances.list.query({})).map((i) => i.id);
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(theirs.id);
    expect((await outcomeOf(developer.instances.list.query({ ownerId: cast.otherDeveloper.user.id }))).outcome).toBe("forbidden");
    const opsIds = (await fixture.client(cast.ops.token).instances.list.query({})).map((i) => i.id);
    expect(opsIds).toEqual(expect.arrayContaining([mine.id, theirs.id]));
  });

  it("a developer may not start a shared instance; ops may", async () => {
    expect((await outcomeOf(fixture.client(cast.developer.token).instances.up.mutate({ kind: "shared" }))).outcome).toBe("forbidden");
    const { instance } = await fixture.client(cast.ops.token).instances.up.mutate({ kind: "shared" });
    expect(instance).toMatchObject({ kind: "shared", ttlExpiresAt: null });
  });

  it("a revoked token stops working at once", async () => {
    const developer = fixture.client(cast.developer.token);
    const { token, plaintext } = await developer.auth.tokens.create.mutate({ name: "short-lived" });
    expect((await fixture.client(plaintext).auth.whoami.query()).user.id).toBe(cast.developer.user.id);
    await developer.auth.tokens.revoke.mutate({ id: token.id });
    expect((await outcomeOf(fixture.client(plaintext).auth.whoami.query())).outcome).toBe("unauthorized");
  });
});
