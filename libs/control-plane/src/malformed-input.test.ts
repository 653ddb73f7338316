import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ApiProcedurePath } from "@devenv/protocol";
import { apiProcedurePaths, apiProcedures } from "@devenv/protocol";
import { callByPath, outcomeOf } from "./testing/calls.ts";
import { startTestServer, type ServerFixture } from "./testing/harness.ts";

const huge = "x".repeat(200_000);

/** Strips optional/default/nullable wrappers to reach the schema that decides the type. */
function core(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) current = current.unwrap() as z.ZodType;
    else return current;
  }
}

/** A value of the wrong JSON type for a field of this schema. */
function wrongTypeFor(schema: z.ZodType): unknown {
  const inner = core(schema);
  if (inner instanceof z.ZodString) return 12345;
  if (inner instanceof z.ZodNumber) return "12";
  if (inner instanceof z.ZodBoolean) return "yes";
  if (inner instanceof z.ZodArray) return "not-a-list";
  if (inner instanceof z.ZodEnum || inner instanceof z.ZodLiteral) return "no-such-value";
  return [{ nested: [1, 2, 3] }];
}

/** Object shapes the input may take (a discriminated union has several). */
function shapesOf(schema: z.ZodType): Record<string, z.ZodType>[] {
  const inner = core(schema);
  if (inner instanceof z.ZodObject) return [inner.shape as Record<string, z.ZodType>];
  if (inner instanceof z.ZodDiscriminatedUnion || inner instanceof z.ZodUnion) return (inner.options as z.ZodType[]).flatMap(shapesOf);
  return [];
}

/** Bad inputs generated from a procedure's input schema: wrong top-level types, unknown and missing fields, wrong-typed and huge fields. */
function badInputsFor(path: ApiProcedurePath): { label: string; input: unknown }[] {
  const schema = apiProcedures[path].input as z.ZodType;
  const cases: { label: string; input: unknown }[] = [
    { label: "a number", input: 42 },
    { label: "a string", input: "text" },
    { label: "a list", input: [1, 2] },
    { label: "an unknown field", input: { surprise: huge } },
  ];
  for (const shape of shapesOf(schema)) {
    const required = Object.entries(shape).filter(([, field]) => !field.safeParse(undefined).success);
    if (required.length > 0) cases.push({ label: "missing required fields", input: {} });
    for (const [key, field] of Object.entries(shape)) {
      cases.push({ label: `${key} of the wrong type`, input: { [key]: wrongTypeFor(field) } });
      if (core(field) instanceof z.ZodString) cases.push({ label: `${key} 200 000 characters long`, input: { [key]: huge } });
    }
  }
  return cases;
}

describe("malformed input", () => {
  let fixture: ServerFixture;
  beforeAll(async () => {
    fixture = await startTestServer();
  });
  afterAll(async () => fixture?.cleanup());

  it("gets bad-request (HTTP 400) from every procedure, never an internal error, and changes nothing", async () => {
    const admin = fixture.client(fixture.adminToken);
    const before = { jobs: (await fixture.store.jobs.list()).length, instances: (await fixture.store.instances.list()).length, users: await fixture.store.users.count() };
    const wrong: string[] = [];
    let cases = 0;
    for (const path of apiProcedurePaths) {
      for (const { label, input } of badInputsFor(path)) {
        cases += 1;
        const got = await outcomeOf(callByPath(admin, path, input));
        if (got.outcome !== "bad-request" || got.httpStatus !== 400) wrong.push(`${path} with ${label}: ${got.outcome} HTTP ${got.httpStatus} (${got.message?.slice(0, 200)})`);
      }
    }
    expect(wrong).toEqual([]);
    expect(cases).toBeGreaterThan(100);
    const after = { jobs: (await fixture.store.jobs.list()).length, instances: (await fixture.store.instances.list()).length, users: await fixture.store.users.count() };
    expect(after).toEqual(before);
  });

  it("names the field that was wrong", async () => {
    const got = await outcomeOf(fixture.client(fixture.adminToken).instances.extendTtl.mutate({ id: "x", hours: -3 }));
    expect(got).toMatchObject({ outcome: "bad-request" });
    expect(got.message).toMatch(/hours/);
  });

  it("a bad cron or time zone is bad-request", async () => {
    const admin = fixture.client(fixture.adminToken);
    const base = { name: "nightly", kind: "shrink" as const, payload: { source: { contactPoints: ["127.0.0.1"], keyspace: "prod" }, rulesFile: "/r.yaml" } };
    expect((await outcomeOf(admin.schedules.set.mutate({ ...base, cron: "99 99 * * *", timezone: "UTC" }))).outcome).toBe("bad-request");
    const zone = await outcomeOf(admin.schedules.set.mutate({ ...base, cron: "0 2 * * *", timezone: "Mars/Olympus" }));
    expect(zone.outcome).toBe("bad-request");
    expect(zone.message).toMatch(/time zone/);
  });

  it("raw HTTP: broken JSON, a body over the limit, an unknown procedure and a missing token are 4xx", async () => {
    const auth = { authorization: `Bearer ${fixture.adminToken}`, "content-type": "application/json" };
    const url = `${fixture.plane.url}/trpc`;
    const brokenJson = await fetch(`${url}/auth.tokens.create`, { method: "POST", headers: auth, body: "{not json" });
    expect(brokenJson.status).toBe(400);
    const tooLarge = await fetch(`${url}/auth.tokens.create`, { method: "POST", headers: auth, body: JSON.stringify({ name: "y".repeat(2 * 1024 * 1024) }) });
    expect(tooLarge.status).toBe(413);
    const badQuery = await fetch(`${url}/snapshots.list?input=%7Bnope`, { headers: auth });
    expect(badQuery.status).toBe(400);
    const unknown = await fetch(`${url}/snapshots.explode`, { method: "POST", headers: auth, body: "{}" });
    expect(unknown.status).toBe(404);
    const mutationAsGet = await fetch(`${url}/snapshots.pin?input=${encodeURIComponent(JSON.stringify({ id: "x" }))}`, { headers: auth });
    expect(mutationAsGet.status).toBe(405);
    const hugeUrl = await fetch(`${url}/snapshots.show?input=${"z".repeat(100_000)}`, { headers: auth });
    expect(hugeUrl.status).toBe(431);
    const anonymous = await fetch(`${url}/auth.whoami`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { data: { apiCode: string } } }).error.data.apiCode).toBe("unauthorized");
  });
});
