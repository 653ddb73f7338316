import { Command, InvalidArgumentError } from "commander";
import {
  describeRoute,
  forwardProcessStatus,
  parseHostPort,
  parseRouteTarget,
  runForwardService,
  startForwardProcess,
  stopForwardProcess,
  useRoute,
  formatHostPort,
  routeView,
  type ForwardLogEvent,
  type RouteResolver,
} from "@devenv/forward";
import type { ForwardListenAddress, ForwardStatus } from "@devenv/protocol";
import { CliError } from "../errors.ts";
import { formatBytes } from "../progress-line.ts";
import type { CommandContext } from "../program.ts";

/**
 * What the forward commands can be given from outside.
 *
 * `resolveName` is the extension point for named targets: `devenv use shared`, `mine` or
 * an instance id ask the control plane where that database is and how to reach it
 * (a direct address, or a tunnel URL with a token). The control plane's API client
 * supplies it where program.ts registers these commands; without it, names fail with
 * a message that says to run `devenv login`.
 */
export interface ForwardCommandOptions {
  resolveName?: RouteResolver;
}

interface ListenFlags {
  listen?: ForwardListenAddress;
  drainTimeout?: number;
  json?: boolean;
}

const startExamples = `
Examples:
  $ devenv forward start                          # 127.0.0.1:9042, or where it listened last
  $ devenv forward start --listen 127.0.0.1:19042
  $ devenv forward start --drain-timeout 30       # close old-route connections 30 s after a switch`;

const statusExamples = `
Examples:
  $ devenv forward status
  $ devenv forward status --json | jq .route`;

const useExamples = `
Targets:
  shared | mine | INSTANCE-ID     looked up on the control plane (needs \`devenv login\`)
  direct:HOST:PORT                plain TCP, e.g. over the VPN
  tunnel:wss://HOST/PATH          a WebSocket tunnel, token from DEVENV_TOKEN

New connections to the forward go to the target at once; open ones finish where they
are. The forward is started in the background when it is not running.

Examples:
  $ devenv use mine
  $ devenv use direct:10.0.3.7:9042
  $ DEVENV_TOKEN=… devenv use tunnel:wss://devenv.example.com/tunnel/i-0abc
  $ devenv use direct:127.0.0.1:9043 --no-check   # switch even though it does not answer yet`;

export function forwardCommand(context: CommandContext): Command {
  const forward = new Command("forward")
    .description("the local listener (default 127.0.0.1:9042) that `devenv use` points at a database")
    .addHelpText(
      "after",
      `
Examples:
  $ devenv forward start && devenv use mine
  $ devenv forward status
  $ devenv forward stop`,
    );

  withListenOptions(forward.command("start"))
    .description("start the forward in the background (it keeps its last route)")
    .addHelpText("after", startExamples)
    .action(async (flags: ListenFlags) => {
      const output = context.output(flags.json);
      const stateDir = context.config().stateDir;
      const listen = flags.listen ?? envListen(context.env);
      const started = await startForwardProcess({
        stateDir,
        command: foregroundCommand(stateDir, listen, flags.drainTimeout),
        env: context.env,
      });
      const { status } = started;
      output.result({ state: "running", alreadyRunning: started.alreadyRunning, ...status });
      const where = formatHostPort(status.listen.host, status.listen.port);
      const route = status.route ? describeRoute(status.route) : "no route yet: `devenv use TARGET` sets one";
      if (started.alreadyRunning) {
        const moved = listen && (listen.host !== status.listen.host || listen.port !== status.listen.port);
        const ignored = moved ? `; --listen ${formatHostPort(listen.host, listen.port)} ignored, stop it first to move it` : "";
        output.line(`forward already running on ${where} (pid ${status.pid}) → ${route}${ignored}`);
      } else {
        output.line(`forward running on ${where} (pid ${status.pid}) → ${route}`);
      }
    });

  forward
    .command("stop")
    .description("stop the forward (open connections are closed; the route is kept for the next start)")
    .option("--json", "print the result as JSON")
    .addHelpText("after", "\nExamples:\n  $ devenv forward stop")
    .action(async (flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const stopped = await stopForwardProcess({ stateDir: context.config().stateDir });
      output.result({ wasRunning: stopped.wasRunning, pid: stopped.pid ?? null });
      output.line(stopped.wasRunning ? `forward stopped (pid ${stopped.pid})` : "forward is not running");
    });

  forward
    .command("status")
    .description("where the forward listens, where it points, and its connections per route")
    .option("--json", "print the result as JSON")
    .addHelpText("after", statusExamples)
    .action(async (flags: { json?: boolean }) => {
      const output = context.output(flags.json);
      const state = await forwardProcessStatus(context.config().stateDir);
      if (state.running) {
        output.result({ state: "running", ...state.status });
        for (const line of describeStatus(state.status)) output.line(line);
        return;
      }
      const route = state.saved?.route ?? null;
      output.result({ state: "stopped", listen: state.saved?.listen ?? null, route: route ? routeView(route) : null });
      const last = route ? ` (last route ${describeRoute(route)}; \`devenv forward start\` brings it back)` : "";
      output.line(`forward: not running${last}`);
    });

  withListenOptions(forward.command("run"))
    .description("run the forward in the foreground (what `start` runs in the background); logs JSON lines")
    .addHelpText("after", "\nExamples:\n  $ devenv forward run --listen 127.0.0.1:9042")
    .action(async (flags: ListenFlags) => {
      const running = await runForwardService({
        stateDir: context.config().stateDir,
        listen: flags.listen ?? envListen(context.env),
        drainTimeoutMs: flags.drainTimeout === undefined ? undefined : Math.round(flags.drainTimeout * 1000),
        log: logLine,
      });
      const stop = () => void running.stop();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      await running.stopped;
      logLine({ event: "stopped" });
    });

  return forward;
}

export function useCommand(context: CommandContext, options: ForwardCommandOptions = {}): Command {
  return new Command("use")
    .description("point the local forward at another database, live")
    .argument("<target>", "shared, mine, an instance id, direct:HOST:PORT or tunnel:wss://…")
    .option("--no-check", "switch even when the target does not answer now")
    .option("--json", "print the result as JSON")
    .addHelpText("after", useExamples)
    .action(async (target: string, flags: { check: boolean; json?: boolean }) => {
      const output = context.output(flags.json);
      // a bad target fails here, before anything is started or changed
      const route = await parseRouteTarget(target, { tunnelToken: context.env.DEVENV_TOKEN || undefined, resolveName: options.resolveName });
      const stateDir = context.config().stateDir;
      const used = await useRoute({
        stateDir,
        route,
        check: flags.check,
        command: foregroundCommand(stateDir, envListen(context.env), undefined),
        env: context.env,
      });
      const { listen } = used.status;
      const where = formatHostPort(listen.host, listen.port);
      output.result({ listen, route: used.route, previous: used.previous, startedForward: used.started });
      if (used.started) output.line(`forward started on ${where} (pid ${used.status.pid})`);
      const was = used.previous ? `; open connections stay on ${describeRoute(used.previous)} until they close` : "";
      output.line(`${where} → ${describeRoute(used.route)}${was}`);
    });
}

function withListenOptions(command: Command): Command {
  return command
    .option("--listen <host:port>", "where clients connect (default 127.0.0.1:9042, env DEVENV_FORWARD_LISTEN)", listenAddress)
    .option("--drain-timeout <seconds>", "close connections left on an old route this long after a switch (default: let them finish)", seconds)
    .option("--json", "print the result as JSON");
}

/** How this very CLI runs `forward run` in a child: same Node, same flags, same entry point. */
export function foregroundCommand(stateDir: string, listen: ForwardListenAddress | undefined, drainTimeout: number | undefined): [string, ...string[]] {
  const entry = process.argv[1];
  if (!entry) throw new CliError("failed", "cannot tell how this CLI was started, so cannot start the forward in the background");
  return [
    process.execPath,
    ...process.execArgv,
    entry,
    // a global option goes before the command
    "--state-dir",
    stateDir,
    "forward",
    "run",
    ...(listen ? ["--listen", formatHostPort(listen.host, listen.port)] : []),
    ...(drainTimeout !== undefined ? ["--drain-timeout", String(drainTimeout)] : []),
  ];
}

function describeStatus(status: ForwardStatus): string[] {
  const where = formatHostPort(status.listen.host, status.listen.port);
  const up = duration(Date.now() - Date.parse(status.startedAt));
  const lines = [`forward: running on ${where} (pid ${status.pid}, up ${up}, ${status.active} open connections)`];
  if (!status.route) {
    lines.push("route:   none yet (`devenv use TARGET` sets one; connections are closed until then)");
  } else {
    const since = status.routeChangedAt ? `, since ${new Date(status.routeChangedAt).toLocaleTimeString()}` : "";
    lines.push(`route:   ${describeRoute(status.route)}${since}`);
  }
  if (status.drainTimeoutMs !== null) lines.push(`drain:   connections on an old route close ${status.drainTimeoutMs / 1000} s after a switch`);
  if (status.routes.length === 0) return lines;
  const rows = status.routes.map((r) => [
    `${r.current ? "*" : " "} ${describeRoute(r.route)}`,
    String(r.active),
    String(r.opened),
    String(r.failed),
    formatBytes(r.bytesFromClients),
    formatBytes(r.bytesToClients),
  ]);
  const header = ["  ROUTE", "ACTIVE", "OPENED", "FAILED", "SENT", "RECEIVED"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const format = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd();
  return [...lines, "", format(header), ...rows.map(format)];
}

function logLine(event: ForwardLogEvent | { event: "stopped" }): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}

function listenAddress(value: string): ForwardListenAddress {
  try {
    return parseHostPort(value, "--listen");
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

export function envListen(env: NodeJS.ProcessEnv): ForwardListenAddress | undefined {
  const raw = env.DEVENV_FORWARD_LISTEN;
  if (!raw) return undefined;
  try {
    return parseHostPort(raw, "DEVENV_FORWARD_LISTEN");
  } catch (error) {
    throw new CliError("config", (error as Error).message);
  }
}

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || n > 86_400) throw new InvalidArgumentError(`--drain-timeout must be seconds from 0 to 86400, got "${value}"`);
  return n;
}

function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 2 * 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
