import { describe, expect, it } from "vitest";
import { LifecycleTracker } from "./lifecycle.ts";

describe("lifecycle tracker", () => {
  it("never moves backwards and queues transitions until a session takes them", () => {
    const lifecycle = new LifecycleTracker(() => new Date("2026-11-25T12:00:00Z"));
    expect(lifecycle.moveTo("registering")).toBe(true);
    expect(lifecycle.moveTo("idle")).toBe(true);
    expect(lifecycle.moveTo("registering")).toBe(false);
    expect(lifecycle.moveTo("downloading")).toBe(true);
    expect(lifecycle.moveTo("restoring")).toBe(true);
    expect(lifecycle.moveTo("downloading")).toBe(false);
    expect(lifecycle.moveTo("ready")).toBe(true);
    // a new assignment is the one allowed step back
    expect(lifecycle.moveTo("downloading")).toBe(true);
    expect(lifecycle.moveTo("draining")).toBe(true);
    expect(lifecycle.moveTo("ready")).toBe(false);
    const sent = lifecycle.takeUnsent(true);
    expect(sent.map((m) => m.state)).toEqual(["booting", "registering", "idle", "downloading", "restoring", "ready", "downloading", "draining"]);
    expect(sent.map((m) => m.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // a fresh session with nothing pending learns the current state again, with a new seq
    expect(lifecycle.takeUnsent(true)).toEqual([expect.objectContaining({ state: "draining", seq: 8 })]);
    expect(lifecycle.takeUnsent(false)).toEqual([]);
  });

  it("puts back what a closed socket did not carry, ahead of newer transitions", () => {
    const lifecycle = new LifecycleTracker();
    const first = lifecycle.takeUnsent(true);
    lifecycle.moveTo("registering");
    lifecycle.requeue(first);
    expect(lifecycle.takeUnsent(false).map((m) => m.state)).toEqual(["booting", "registering"]);
  });
});
