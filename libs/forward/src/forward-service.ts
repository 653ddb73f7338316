import type { ForwardControlResponse, ForwardListenAddress } from "@devenv/protocol";
import { listenForControl, type ControlRequest, type ControlServer } from "./control-server.ts";
import { ForwardError } from "./errors.ts";
import { ForwardControl } from "./forward-control.ts";
import { defaultListenAddress, ForwardDaemon, type ForwardDaemonOptions, type ForwardLogEvent } from "./forward-daemon.ts";
import { describeRoute, routeView } from "./routes.ts";
import {
  ensureStateDir,
  forwardPaths,
  readForwardState,
  removeRuntimeFiles,
  writeForwardState,
  writePid,
  type ForwardPaths,
} from "./state-files.ts";

export interface ForwardServiceOptions {
  stateDir: string;
  /** Default: the saved listen address, else 127.0.0.1:9042. */
  listen?: ForwardListenAddress;
  /** Default: the saved setting, else null (connections on an old route finish in their own time). */
  drainTimeoutMs?: number | null;
  log?: (event: ForwardLogEvent) => void;
  /** Connection tuning, for tests. */
  daemon?: Pick<ForwardDaemonOptions, "connectAttempts" | "connectBackoffMs" | "connectTimeoutMs" | "keepAliveMs">;
}

export interface RunningForwardService {
  daemon: ForwardDaemon;
  paths: ForwardPaths;
  listen: ForwardListenAddress;
  /** Settles when the service has stopped (a `stop` request, or stop()). */
  stopped: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The forward as a service, in this process: the listener, the control socket, the pid
 * file, and the state file that brings the last route back after a restart.
 */
export async function runForwardService(options: ForwardServiceOptions): Promise<RunningForwardService> {
  const paths = forwardPaths(options.stateDir);
  // a unix socket path has a hard limit (104 bytes on macOS, 108 on Linux)
  if (Buffer.byteLength(paths.socketPath) > 103) {
    throw new ForwardError("start-failed", `the state dir path is too long for a control socket (${paths.socketPath}): use a shorter --state-dir`);
  }
  ensureStateDir(paths);
  await assertNotRunning(paths);
  const saved = readForwardState(paths);
  const drainTimeoutMs = options.drainTimeoutMs !== undefined ? options.drainTimeoutMs : (saved?.drainTimeoutMs ?? null);
  const daemon = new ForwardDaemon({
    ...options.daemon,
    listen: options.listen ?? saved?.listen ?? defaultListenAddress,
    route: saved?.route ?? null,
    drainTimeoutMs,
    log: options.log,
  });
  const listen = await daemon.listen();
  const persist = () => writeForwardState(paths, { version: 1, listen, route: daemon.route, drainTimeoutMs });
  persist();

  let stopping: Promise<void> | undefined;
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve));
  let control: ControlServer | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await Promise.all([
        control?.close(),
        daemon.close(),
      ]);
      removeRuntimeFiles(paths);
      resolveStopped();
    })();
    return stopping;
  };

  const handle = async (request: ControlRequest): Promise<ForwardControlResponse> => {
    switch (request.type) {
      case "status":
        return { type: "status", status: daemon.status() };
      case "use": {
        if (request.check) {
          try {
            await daemon.probe(request.route);
          } catch (error) {
            const reason = error instanceof Error ? error.message : String(error);
            return { type: "error", code: "unreachable", message: `${reason}; the route is unchanged (--no-check switches anyway)` };
          }
        }
        const { previous } = daemon.setRoute(request.route);
        persist();
        return { type: "use", previous: previous ? routeView(previous) : null, route: routeView(request.route) };
      }
      case "stop":
        // answer first; the socket closes right after
        setImmediate(() => void stop());
        return { type: "stop", pid: process.pid };
    }
  };

  try {
    control = await listenForControl(paths.socketPath, handle);
  } catch (error) {
    await daemon.close();
    throw new ForwardError("start-failed", `cannot open the control socket ${paths.socketPath}: ${(error as Error).message}`, { cause: error });
  }
  writePid(paths, process.pid);
  return { daemon, paths, listen, stopped, stop };
}

/** A second daemon on the same state dir would steal the socket from the first. */
async function assertNotRunning(paths: ForwardPaths): Promise<void> {
  try {
    const status = await new ForwardControl(paths.socketPath, { timeoutMs: 2_000 }).status();
    const route = status.route ? describeRoute(status.route) : "no route";
    throw new ForwardError("start-failed", `a forward is already running (pid ${status.pid}, ${route}); \`devenv forward stop\` stops it`);
  } catch (error) {
    if (error instanceof ForwardError && error.code === "not-running") {
      removeRuntimeFiles(paths); // leftovers of a daemon that died
      return;
    }
    throw error;
  }
}
