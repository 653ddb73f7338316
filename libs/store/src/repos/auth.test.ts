import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "@devenv/core/testing";
import { StoreError } from "../errors.ts";
import type { Store } from "../store.ts";
import { dialects, storeHarness, storeTestEpoch } from "../testing/store-harness.ts";
import { uniqueName } from "@devenv/testing";

describe.each(dialects)("users, tokens and agent credentials on %s", (dialect) => {
  const harness = storeHarness(dialect);
  const clock = new ManualClock(storeTestEpoch);
  let store: Store;

  beforeAll(async () => {
    store = await harness.fresh(clock);
  });
  afterAll(() => harness.cleanup());

  const newUser = (role: "developer" | "ops" | "admin" = "developer") => store.users.create({ name: uniqueName("user"), role });

  async function newInstance() {
    const owner = await newUser();
    return store.instances.create({ ownerId: owner.id, kind: "personal", provisioner: "ec2", providerId: uniqueName("i") });
  }

  describe("users", () => {
    it("creates, finds and updates users; names and Slack ids are unique", async () => {
      const ada = await store.users.create({ name: "ada", role: "ops", slackUserId: "U123" });
      expect(ada).toMatchObject({ name: "ada", role: "ops", slackUserId: "U123", createdAt: clock.date().toISOString() });
      expect(await store.users.get(ada.id)).toEqual(ada);
      expect(await store.users.findByName("ada")).toEqual(ada);
      expect(await store.users.findBySlackUserId("U123")).toEqual(ada);
      await expect(store.users.create({ name: "ada", role: "developer" })).rejects.toMatchObject({ code: "conflict" });
      await expect(store.users.create({ name: "bob", role: "developer", slackUserId: "U123" })).rejects.toMatchObject({ code: "conflict" });
      expect(await store.users.update(ada.id, { role: "admin", slackUserId: null })).toMatchObject({ role: "admin", slackUserId: null });
      expect((await store.users.list()).map((u) => u.name)).toContain("ada");
      expect(await store.users.count()).toBeGreaterThanOrEqual(1);
    });

    it("refuses bad input and unknown ids with typed errors", async () => {
      await expect(store.users.create({ name: " ", role: "developer" })).rejects.toMatchObject({ code: "invalid-input" });
      await expect(store.users.create({ name: "x", role: "root" as "admin" })).rejects.toMatchObject({ code: "invalid-input", message: /role must be one of developer, ops, admin/ });
      await expect(store.users.get("nobody")).rejects.toMatchObject({ code: "not-found" });
      await expect(store.users.update("nobody", { role: "ops" })).rejects.toMatchObject({ code: "not-found" });
      expect(await store.users.find("nobody")).toBeUndefined();
    });
  });

  describe("people's api tokens", () => {
    it("returns the plaintext once and stores only its hash", async () => {
      const user = await newUser();
      const { token, plaintext } = await store.tokens.create({ userId: user.id, name: "laptop" });
      expect(plaintext).toMatch(/^dvt_[A-Za-z0-9_-]{43}$/);
      expect(token.prefix).toBe(plaintext.slice(0, 12));
      expect(JSON.stringify(await store.tokens.list(user.id))).not.toContain(plaintext.slice(12));
      expect(await store.tokens.get(token.id)).toEqual(token);
    });

    it("authenticates a token to its user and records the use", async () => {
      const user = await newUser("ops");
      const { token, plaintext } = await store.tokens.create({ userId: user.id, name: "ci" });
      clock.advance(1_000);
      expect(await store.tokens.authenticate(plaintext)).toEqual(user);
      expect((await store.tokens.get(token.id)).lastUsedAt).toBe(clock.date().toISOString());
      expect(await store.tokens.authenticate(`${plaintext}x`)).toBeNull();
      expect(await store.tokens.authenticate("")).toBeNull();
      expect(await store.tokens.authenticate("dvt_guess")).toBeNull();
    });

    it("stops authenticating a revoked token at once, and keeps the user's other tokens working", async () => {
      const user = await newUser();
      const a = await store.tokens.create({ userId: user.id, name: "a" });
      const b = await store.tokens.create({ userId: user.id, name: "b" });
      const revoked = await store.tokens.revoke(a.token.id);
      expect(revoked.revokedAt).toBe(clock.date().toISOString());
      expect(await store.tokens.authenticate(a.plaintext)).toBeNull();
      expect(await store.tokens.authenticate(b.plaintext)).toEqual(user);
      clock.advance(1_000);
      expect((await store.tokens.revoke(a.token.id)).revokedAt).toBe(revoked.revokedAt); // idempotent
      await expect(store.tokens.revoke("missing")).rejects.toMatchObject({ code: "not-found" });
      expect((await store.tokens.list(user.id)).map((t) => [t.name, t.revokedAt !== null]).sort()).toEqual([["a", true], ["b", false]]);
    });

    it("stops authenticating a token past its expiry", async () => {
      const user = await newUser();
      const { plaintext } = await store.tokens.create({ userId: user.id, name: "short", expiresAt: new Date(clock.now() + 60_000) });
      expect(await store.tokens.authenticate(plaintext)).toEqual(user);
      clock.advance(60_000);
      expect(await store.tokens.authenticate(plaintext)).toBeNull();
    });

    it("refuses a token for an unknown user", async () => {
      await expect(store.tokens.create({ userId: "nobody", name: "x" })).rejects.toMatchObject({ code: "not-found" });
    });
  });

  describe("join tokens", () => {
    it("works once: the second use is unauthorized", async () => {
      const instance = await newInstance();
      const { plaintext, joinToken } = await store.joinTokens.issue(instance.id, { ttlMs: 60_000 });
      expect(plaintext).toMatch(/^dvj_/);
      expect(joinToken.expiresAt).toBe(new Date(clock.now() + 60_000).toISOString());
      const used = await store.joinTokens.consume(plaintext);
      expect(used).toMatchObject({ instanceId: instance.id, usedAt: clock.date().toISOString() });
      await expect(store.joinTokens.consume(plaintext)).rejects.toMatchObject({ code: "unauthorized", message: /already used/ });
    });

    it("expires: at its expiry time it is refused with expired, and stays unused", async () => {
      const instance = await newInstance();
      const { plaintext, joinToken } = await store.joinTokens.issue(instance.id, { ttlMs: 30_000 });
      clock.advance(30_000);
      await expect(store.joinTokens.consume(plaintext)).rejects.toMatchObject({ code: "expired" });
      expect(await store.joinTokens.list(instance.id)).toEqual([joinToken]);
    });

    it("refuses an unknown token as unauthorized", async () => {
      await expect(store.joinTokens.consume("dvj_unknown")).rejects.toMatchObject({ code: "unauthorized", message: /not valid/ });
    });

    it("lets exactly one of many concurrent registrations with the same token win", async () => {
      const instance = await newInstance();
      const { plaintext } = await store.joinTokens.issue(instance.id);
      const replica = await harness.open(harness.urlOf(store), clock);
      const attempts = await Promise.allSettled(
        Array.from({ length: 6 }, (_, i) =>
          (i % 2 === 0 ? store : replica).agents.registerWithJoinToken(plaintext, { identity: { i }, version: "1.0.0" }),
        ),
      );
      expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
      for (const a of attempts) if (a.status === "rejected") expect(a.reason).toMatchObject({ code: "unauthorized" });
      expect(await store.agents.list({ instanceId: instance.id })).toHaveLength(1);
    });

    it("refuses to issue a token for an unknown instance or with a bad ttl", async () => {
      await expect(store.joinTokens.issue("nope")).rejects.toMatchObject({ code: "not-found" });
      const instance = await newInstance();
      await expect(store.joinTokens.issue(instance.id, { ttlMs: 0 })).rejects.toMatchObject({ code: "invalid-input" });
    });
  });

  describe("agents", () => {
    it("exchanges a join token for a credential that authenticates the agent", async () => {
      const instance = await newInstance();
      const { plaintext } = await store.joinTokens.issue(instance.id);
      const { agent, credential } = await store.agents.registerWithJoinToken(plaintext, {
        identity: { instanceId: instance.providerId, region: "eu-west-1" },
        version: "1.2.3",
      });
      expect(credential).toMatch(/^dva_/);
      expect(agent).toMatchObject({ instanceId: instance.id, version: "1.2.3", revoked: false, state: "registering", identity: { region: "eu-west-1" } });
      expect(await store.agents.authenticate(credential)).toEqual(agent);
      // a people's token is not an agent credential, nor the other way round
      const user = await newUser("admin");
      const people = await store.tokens.create({ userId: user.id, name: "t" });
      expect(await store.agents.authenticate(people.plaintext)).toBeNull();
      expect(await store.tokens.authenticate(credential)).toBeNull();
    });

    it("a registration the caller refuses (identity not the instance's) leaves the join token unused", async () => {
      const instance = await newInstance();
      const { plaintext } = await store.joinTokens.issue(instance.id);
      const verify = (claimed: string) => (target: { providerId: string | null }) => {
        if (target.providerId !== claimed) throw new StoreError("unauthorized", `identity ${claimed} is not this instance's host`);
      };
      await expect(
        store.agents.registerWithJoinToken(plaintext, { identity: { instanceId: "i-impostor" }, version: "1", verify: verify("i-impostor") }),
      ).rejects.toMatchObject({ code: "unauthorized", message: /i-impostor/ });
      expect((await store.joinTokens.list(instance.id))[0]?.usedAt).toBeNull();
      const { agent } = await store.agents.registerWithJoinToken(plaintext, {
        identity: { instanceId: instance.providerId },
        version: "1",
        verify: verify(instance.providerId ?? ""),
      });
      expect(agent.instanceId).toBe(instance.id);
    });

    it("a failed registration (expired token) consumes nothing and creates no agent", async () => {
      const instance = await newInstance();
      const { plaintext } = await store.joinTokens.issue(instance.id, { ttlMs: 1_000 });
      clock.advance(1_000);
      await expect(store.agents.registerWithJoinToken(plaintext, { identity: {}, version: "1" })).rejects.toMatchObject({ code: "expired" });
      expect(await store.agents.list({ instanceId: instance.id, includeRevoked: true })).toEqual([]);
    });

    it("revokes a credential; a re-registered host revokes the previous agent", async () => {
      const instance = await newInstance();
      const first = await store.agents.register(instance.id, { identity: { boot: 1 }, version: "1" });
      const second = await store.agents.register(instance.id, { identity: { boot: 2 }, version: "1" });
      expect(await store.agents.authenticate(first.credential)).toBeNull();
      expect((await store.agents.get(first.agent.id)).revoked).toBe(true);
      expect((await store.agents.authenticate(second.credential))?.id).toBe(second.agent.id);
      await store.agents.revoke(second.agent.id);
      expect(await store.agents.authenticate(second.credential)).toBeNull();
      expect(await store.agents.list({ instanceId: instance.id })).toEqual([]);
      expect(await store.agents.list({ instanceId: instance.id, includeRevoked: true })).toHaveLength(2);
    });

    it("records heartbeats with state and health", async () => {
      const instance = await newInstance();
      const { agent } = await store.agents.register(instance.id, { identity: {}, version: "1" });
      clock.advance(5_000);
      const beat = await store.agents.recordHeartbeat(agent.id, { state: "ready", health: { cassandraUp: true, diskFreeBytes: 1_000_000 } });
      expect(beat).toMatchObject({ state: "ready", lastHeartbeatAt: clock.date().toISOString(), health: { cassandraUp: true, diskFreeBytes: 1_000_000 } });
      expect((await store.agents.setState(agent.id, "draining")).state).toBe("draining");
      await expect(store.agents.recordHeartbeat("nope")).rejects.toMatchObject({ code: "not-found" });
    });

    it("refuses to register for a terminated instance", async () => {
      const instance = await newInstance();
      await store.instances.transition(instance.id, { to: "terminated" });
      await expect(store.agents.register(instance.id, { identity: {}, version: "1" })).rejects.toMatchObject({ code: "invalid-transition" });
    });
  });

  describe("command outbox", () => {
    async function newAgent() {
      const instance = await newInstance();
      return (await store.agents.register(instance.id, { identity: {}, version: "1" })).agent;
    }

    it("returns pending commands in enqueue order until acknowledged", async () => {
      const agent = await newAgent();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { command, created } = await store.commands.enqueue({ agentId: agent.id, type: "assign", payload: { i }, idempotencyKey: `k${i}` });
        expect(created).toBe(true);
        ids.push(command.id);
      }
      expect((await store.commands.pending(agent.id)).map((c) => c.id)).toEqual(ids);
      clock.advance(10);
      const delivered = await store.commands.markDelivered(ids[0]!);
      expect(delivered.deliveredAt).toBe(clock.date().toISOString());
      // delivered but not acked: still pending, so a reconnecting agent gets it again
      expect((await store.commands.pending(agent.id)).map((c) => c.id)).toEqual(ids);
      const acked = await store.commands.markAcked(ids[0]!, { ok: true });
      expect(acked).toMatchObject({ ackedAt: clock.date().toISOString(), result: { ok: true } });
      await store.commands.markAcked(ids[2]!); // acked without a recorded delivery
      expect((await store.commands.get(ids[2]!)).deliveredAt).not.toBeNull();
      expect((await store.commands.pending(agent.id)).map((c) => c.id)).toEqual([ids[1], ids[3], ids[4]]);
    });

    it("is idempotent per agent: the same key returns the first command", async () => {
      const agent = await newAgent();
      const other = await newAgent();
      const first = await store.commands.enqueue({ agentId: agent.id, type: "assign", payload: { v: 1 }, idempotencyKey: "assign-1" });
      const again = await store.commands.enqueue({ agentId: agent.id, type: "assign", payload: { v: 2 }, idempotencyKey: "assign-1" });
      expect(again).toEqual({ command: first.command, created: false });
      const elsewhere = await store.commands.enqueue({ agentId: other.id, type: "assign", payload: { v: 3 }, idempotencyKey: "assign-1" });
      expect(elsewhere.created).toBe(true);
      expect(await store.commands.pending(agent.id)).toHaveLength(1);
      // inside a transaction too: a repeated key must not abort it (PostgreSQL would)
      await store.transaction(async (tx) => {
        expect((await tx.commands.enqueue({ agentId: agent.id, type: "assign", payload: {}, idempotencyKey: "assign-1" })).created).toBe(false);
        await tx.commands.enqueue({ agentId: agent.id, type: "cancel", payload: {}, idempotencyKey: "cancel-1" });
      });
      expect((await store.commands.pending(agent.id)).map((c) => c.type)).toEqual(["assign", "cancel"]);
    });

    it("keeps the first acknowledgement", async () => {
      const agent = await newAgent();
      const { command } = await store.commands.enqueue({ agentId: agent.id, type: "assign", payload: {}, idempotencyKey: "x" });
      const first = await store.commands.markAcked(command.id, { attempt: 1 });
      clock.advance(1_000);
      expect(await store.commands.markAcked(command.id, { attempt: 2 })).toEqual(first);
      await expect(store.commands.markDelivered("nope")).rejects.toMatchObject({ code: "not-found" });
      await expect(store.commands.markAcked("nope")).rejects.toMatchObject({ code: "not-found" });
      await expect(store.commands.enqueue({ agentId: "nope", type: "a", payload: {}, idempotencyKey: "y" })).rejects.toMatchObject({ code: "not-found" });
    });
  });
});

describe.each(dialects)("first-run admin on %s", (dialect) => {
  const harness = storeHarness(dialect);
  afterAll(() => harness.cleanup());

  it("creates the admin and its token exactly once, even with replicas starting together", async () => {
    const store = await harness.fresh();
    const replica = await harness.open(harness.urlOf(store));
    const results = await Promise.all([store.tokens.bootstrapAdmin(), replica.tokens.bootstrapAdmin(), store.tokens.bootstrapAdmin()]);
    const winners = results.filter((r) => r !== null);
    expect(winners).toHaveLength(1);
    const admin = winners[0]!;
    expect(admin.user.role).toBe("admin");
    expect(await store.tokens.authenticate(admin.plaintext)).toEqual(admin.user);
    expect(await store.users.count()).toBe(1);
    expect(await replica.tokens.bootstrapAdmin()).toBeNull();
  });
});
