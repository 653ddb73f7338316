import { createRequire } from "node:module";

/**
 * The service manager's notification channel (sd_notify). READY=1 once the agent is
 * registered and has checked its health, WATCHDOG=1 on schedule while it is healthy,
 * STATUS= with the current phase, STOPPING=1 on shutdown.
 */
export interface SystemdNotifier {
  ready(): void;
  watchdog(): void;
  status(text: string): void;
  stopping(): void;
  /** The watchdog period systemd expects (WATCHDOG_USEC), or undefined when none is set. */
  readonly watchdogIntervalMs: number | undefined;
}

export const noopSystemdNotifier: SystemdNotifier = {
  ready() {},
  watchdog() {},
  status() {},
  stopping() {},
  watchdogIntervalMs: undefined,
};

/** The parts of the `sd-notify` package (libsystemd's sd_notify, as a Node addon) used here. */
interface SdNotifyBinding {
  sendState(state: string): void;
}

/**
 * Uses the `sd-notify` npm package, a binding of libsystemd's sd_notify(3): it sends from
 * the agent's own process, so the unit can keep NotifyAccess=main. Without NOTIFY_SOCKET
 * (not started by systemd) every call is a no-op and the addon is not even loaded.
 */
export function systemdNotifier(env: NodeJS.ProcessEnv = process.env): SystemdNotifier {
  if (!env.NOTIFY_SOCKET) return noopSystemdNotifier;
  let binding: SdNotifyBinding;
  try {
    binding = createRequire(import.meta.url)("sd-notify") as SdNotifyBinding;
  } catch (error) {
    throw new Error(
      `NOTIFY_SOCKET is set but the sd-notify addon does not load (${(error as Error).message}); rebuild it with libsystemd-dev installed: npm rebuild sd-notify`,
      { cause: error },
    );
  }
  const send = (state: string) => binding.sendState(`${state}\n`);
  return {
    ready: () => send("READY=1"),
    watchdog: () => send("WATCHDOG=1"),
    // one line: a newline would start another assignment in the datagram
    status: (text) => send(`STATUS=${text.replaceAll("\n", " ")}`),
    stopping: () => send("STOPPING=1"),
    watchdogIntervalMs: watchdogIntervalMs(env),
  };
}

/** WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID absent or ours). */
function watchdogIntervalMs(env: NodeJS.ProcessEnv): number | undefined {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return undefined;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return undefined;
  return usec / 1000;
}
