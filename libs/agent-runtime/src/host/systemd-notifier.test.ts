import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNotifyReceiver } from "../testing/notify-receiver.ts";
import type { NotifyReceiver } from "../testing/notify-receiver.ts";
import { waitFor } from "../testing/wait-for.ts";
import { noopSystemdNotifier, systemdNotifier } from "./systemd-notifier.ts";

describe("systemd notifier (sd-notify package)", () => {
  let dir: string;
  let receiver: NotifyReceiver;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "devenv-notify-"));
    receiver = await startNotifyReceiver(dir);
  });
  afterAll(async () => {
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is a no-op without NOTIFY_SOCKET", () => {
    expect(systemdNotifier({})).toBe(noopSystemdNotifier);
  });

  it("sends READY, STATUS, WATCHDOG and STOPPING datagrams to NOTIFY_SOCKET", async () => {
    // libsystemd reads the variable from the process environment
    const previous = process.env.NOTIFY_SOCKET;
    process.env.NOTIFY_SOCKET = receiver.socketPath;
    try {
      const notifier = systemdNotifier({ NOTIFY_SOCKET: receiver.socketPath, WATCHDOG_USEC: "4000000" });
      expect(notifier.watchdogIntervalMs).toBe(4_000);
      notifier.status("registering: control plane\nsecond line");
      notifier.ready();
      notifier.watchdog();
      notifier.stopping();
      await waitFor("four datagrams", () => receiver.messages.length >= 4, 5_000);
      expect(receiver.messages).toEqual(["STATUS=registering: control plane second line\n", "READY=1\n", "WATCHDOG=1\n", "STOPPING=1\n"]);
    } finally {
      if (previous === undefined) delete process.env.NOTIFY_SOCKET;
      else process.env.NOTIFY_SOCKET = previous;
    }
  });
});
