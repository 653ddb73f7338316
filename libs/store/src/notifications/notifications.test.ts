import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { services } from "@devenv/testing";
import type { Store } from "../store.ts";
import { dialects, storeHarness } from "../testing/store-harness.ts";

/** Polls until `condition` holds or the deadline passes (no fixed sleeps). */
async function eventually(condition: () => boolean, what: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe.each(dialects)("notifications on %s", (dialect) => {
  const harness = storeHarness(dialect);
  let sender: Store;
  let receiver: Store;

  beforeAll(async () => {
    sender = await harness.fresh();
    receiver = await harness.open(harness.urlOf(sender)); // another replica
  });
  afterAll(() => harness.cleanup());

  it("delivers a published payload to every subscriber of the channel, until unsubscribed", async () => {
    const got: string[] = [];
    const other: string[] = [];
    const stop = await receiver.notifications.subscribe("agent_commands", (p) => got.push(p));
    const stopOther = await sender.notifications.subscribe("agent_commands", (p) => other.push(`sender:${p}`));
    await receiver.notifications.subscribe("unrelated", (p) => got.push(`wrong channel: ${p}`));
    await sender.notifications.publish("agent_commands", "agent-1");
    await eventually(() => got.length === 1 && other.length === 1, "both subscribers");
    expect(got).toEqual(["agent-1"]);
    expect(other).toEqual(["sender:agent-1"]);

    await stop();
    await stopOther();
    await sender.notifications.publish("agent_commands", "agent-2");
    const marker: string[] = [];
    const stopMarker = await receiver.notifications.subscribe("agent_commands", (p) => marker.push(p));
    await sender.notifications.publish("agent_commands", "agent-3");
    await eventually(() => marker.includes("agent-3"), "the marker");
    expect(got).toEqual(["agent-1"]);
    await stopMarker();
  });

  it("sends on commit, and never for a rolled-back transaction", async () => {
    const got: string[] = [];
    const stop = await receiver.notifications.subscribe("tx_channel", (p) => got.push(p));
    await expect(
      sender.transaction(async (tx) => {
        await tx.notifications.publish("tx_channel", "rolled-back");
        throw new Error("abort");
      }),
    ).rejects.toThrow();
    await sender.transaction(async (tx) => {
      await tx.notifications.publish("tx_channel", "committed");
      expect(got).toEqual([]); // not before commit
    });
    await eventually(() => got.length > 0, "the committed notification");
    expect(got).toEqual(["committed"]);
    await stop();
  });

  it("a listener woken by a transaction's notification can read and write through the same store", async () => {
    const reads: string[] = [];
    const stop = await sender.notifications.subscribe("tx_readback", (id) => {
      // the transaction that published is over: this is an ordinary caller of the store
      void sender.users.get(id).then((user) => reads.push(user.name));
    });
    const user = await sender.transaction(async (tx) => {
      const created = await tx.users.create({ name: `readback-${Date.now()}`, role: "developer" });
      await tx.notifications.publish("tx_readback", created.id);
      return created;
    });
    await eventually(() => reads.length > 0, "the listener's read");
    expect(reads).toEqual([user.name]);
    await stop();
  });

  it("refuses bad channel names and oversized payloads", async () => {
    await expect(sender.notifications.publish("Bad-Name", "x")).rejects.toMatchObject({ code: "invalid-input" });
    await expect(sender.notifications.subscribe("1abc", () => {})).rejects.toMatchObject({ code: "invalid-input" });
    await expect(sender.notifications.publish("ok", "x".repeat(8_000))).rejects.toMatchObject({ code: "invalid-input", message: /send an id/ });
  });

  it.runIf(dialect === "postgres")("keeps listening after the listening connection is killed, and says when payloads may have been missed", async () => {
    const got: string[] = [];
    let resyncs = 0;
    const stop = await receiver.notifications.subscribe("survives_restart", (p) => got.push(p), { onResync: () => (resyncs += 1) });
    let otherResyncs = 0;
    const stopOther = await receiver.notifications.subscribe("unrelated_resync", () => {}, { onResync: () => (otherResyncs += 1) });
    await stopOther(); // an ended subscription hears of no resync
    const database = new URL(harness.urlOf(receiver)).pathname.slice(1);
    const admin = new pg.Client({ connectionString: services().postgres.url });
    await admin.connect();
    try {
      const killed = await admin.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and query ~* '^(un)?listen '",
        [database],
      );
      expect(killed.rowCount).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    await eventually(() => resyncs > 0, "the resync after the reconnect", 15_000);
    // once resynced, the channel is listened on again: nothing published from now on is lost
    await sender.notifications.publish("survives_restart", "after-resync");
    await eventually(() => got.length > 0, "a notification after the resync");
    expect(got).toEqual(["after-resync"]);
    expect(resyncs).toBe(1);
    expect(otherResyncs).toBe(0);
    await stop();
  });
});
