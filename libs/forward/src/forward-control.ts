import { connect } from "node:net";
import {
  ForwardControlResponse,
  type ForwardControlRequest,
  type ForwardRoute,
  type ForwardStatus,
  type ForwardStopResponse,
  type ForwardUseResponse,
} from "@devenv/protocol";
import { ForwardError } from "./errors.ts";

/** The CLI's side of the control socket: one connection per request. */
export class ForwardControl {
  readonly socketPath: string;
  readonly #timeoutMs: number;

  constructor(socketPath: string, options: { timeoutMs?: number } = {}) {
    this.socketPath = socketPath;
    this.#timeoutMs = options.timeoutMs ?? 15_000;
  }

  async status(): Promise<ForwardStatus> {
    const response = await this.#request({ type: "status" });
    if (response.type !== "status") throw unexpected(response.type);
    return response.status;
  }

  /** Switches the route; with `check` (default) the daemon first proves the target answers. */
  async use(route: ForwardRoute, options: { check?: boolean } = {}): Promise<ForwardUseResponse> {
    const response = await this.#request({ type: "use", route, check: options.check ?? true });
    if (response.type !== "use") throw unexpected(response.type);
    return response;
  }

  async stop(): Promise<ForwardStopResponse> {
    const response = await this.#request({ type: "stop" });
    if (response.type !== "stop") throw unexpected(response.type);
    return response;
  }

  #request(request: ForwardControlRequest): Promise<Exclude<ForwardControlResponse, { type: "error" }>> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.socketPath);
      let received = "";
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        outcome();
      };
      const timer = setTimeout(
        () => settle(() => reject(new ForwardError("control-failed", `the forward did not answer within ${this.#timeoutMs} ms (socket ${this.socketPath})`))),
        this.#timeoutMs,
      );
      socket.setEncoding("utf8");
      socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
      socket.on("data", (text: string) => {
        received += text;
        const newline = received.indexOf("\n");
        if (newline < 0) return;
        settle(() => {
          try {
            resolve(parseResponse(received.slice(0, newline)));
          } catch (error) {
            reject(error);
          }
        });
      });
      socket.on("error", (error: NodeJS.ErrnoException) => {
        settle(() => {
          if (error.code === "ENOENT" || error.code === "ECONNREFUSED") {
            reject(new ForwardError("not-running", "the forward is not running: `devenv forward start` starts it", { cause: error }));
          } else {
            reject(new ForwardError("control-failed", `cannot reach the forward on ${this.socketPath}: ${error.message}`, { cause: error }));
          }
        });
      });
      socket.on("close", () => {
        settle(() => reject(new ForwardError("control-failed", "the forward closed the control connection without answering")));
      });
    });
  }
}

function parseResponse(line: string): Exclude<ForwardControlResponse, { type: "error" }> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ForwardError("control-failed", "the forward answered something that is not JSON");
  }
  const parsed = ForwardControlResponse.safeParse(value);
  if (!parsed.success) throw new ForwardError("control-failed", `the forward answered an unknown message: ${parsed.error.issues[0]?.message}`);
  const response = parsed.data;
  if (response.type === "error") {
    switch (response.code) {
      case "bad-request":
        throw new ForwardError("bad-target", response.message);
      case "unreachable":
        throw new ForwardError("unreachable", response.message);
      case "internal":
        throw new ForwardError("control-failed", response.message);
    }
  }
  return response;
}

function unexpected(type: string): ForwardError {
  return new ForwardError("control-failed", `the forward answered "${type}" to a different request`);
}
