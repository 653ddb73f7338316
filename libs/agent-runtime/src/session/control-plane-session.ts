import { backoffDelay, type BackoffPolicy } from "@devenv/core";
import { AgentToControlPlane, parseControlPlaneFrame } from "@devenv/protocol";
import type { AgentCommand, AgentHealth, ControlPlaneToAgent, HelloMessage, WelcomeMessage } from "@devenv/protocol";
import { WebSocket } from "ws";
import type { RawData } from "ws";
import type { AgentLogger } from "../logger.ts";
import { silentLogger } from "../logger.ts";
import type { LifecycleTracker } from "./lifecycle.ts";

export interface SessionHandlers {
  /** Called with each welcome before anything else is sent; a returned promise is awaited (e.g. storing the credential). */
  onWelcome(welcome: WelcomeMessage): Promise<void>;
  onCommand(command: AgentCommand): void;
  onTunnelData(streamId: number, data: Buffer): void;
  /** The socket closed (tunnels die with it). */
  onDisconnected(): void;
  /** The control plane said goodbye without a reconnect hint: it does not want this agent back. */
  onDismissed(reason: string): void;
}

export interface ControlPlaneSessionOptions {
  url: string;
  /** Builds the hello for each connection: the auth may change (join token, then credential). */
  hello: () => Promise<HelloMessage>;
  lifecycle: LifecycleTracker;
  health: () => Promise<AgentHealth>;
  handlers: SessionHandlers;
  backoff?: BackoffPolicy;
  random?: () => number;
  /** How long to wait for welcome after hello; default 15 s. */
  welcomeTimeoutMs?: number;
  logger?: AgentLogger;
}

/**
 * Redial waits: full jitter spreads a fleet that lost the control plane at the same
 * moment, so its return is not a thundering herd.
 */
export const defaultReconnectBackoff: BackoffPolicy = { initialMs: 500, maxMs: 30_000, jitter: "full" };

type Reliable = Extract<AgentToControlPlane, { type: "result" | "interruption" }>;

/**
 * The agent's one WebSocket to the control plane, kept up by one reconnect loop (capped
 * exponential backoff, full jitter). Each connection says hello, waits for welcome, then
 * flushes the lifecycle transitions and reports it could not send, and heartbeats at the
 * interval the welcome gives. Every frame is checked against the protocol both ways.
 */
export class ControlPlaneSession {
  readonly #options: ControlPlaneSessionOptions;
  readonly #logger: AgentLogger;
  readonly #pendingReliable: Reliable[] = [];
  #socket: WebSocket | undefined;
  #open = false;
  #stopped = false;
  #heartbeatSeq = 0;
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #welcomed = Promise.withResolvers<void>();
  #connections = 0;

  constructor(options: ControlPlaneSessionOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /** How many sessions reached welcome so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Resolves at the first welcome. */
  get firstWelcome(): Promise<void> {
    return this.#welcomed.promise;
  }

  start(): void {
    if (this.#loop) throw new Error("this session was already started");
    this.#loop = this.#run();
  }

  /** Sends now if a session is open; false otherwise (the message is dropped: progress, heartbeats, acks). */
  send(message: AgentToControlPlane): boolean {
    const checked = AgentToControlPlane.parse(message);
    const socket = this.#socket;
    if (!this.#open || socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(checked));
    return true;
  }

  /** Results and interruption notices: sent now, or kept until the next session opens. */
  sendReliably(message: Reliable): void {
    if (!this.send(message)) this.#pendingReliable.push(message);
  }

  /** A tunnel frame: 4-byte big-endian stream id, then the bytes (empty: this end closed). */
  sendTunnelData(streamId: number, data: Uint8Array): boolean {
    const socket = this.#socket;
    if (!this.#open || socket?.readyState !== WebSocket.OPEN) return false;
    const header = Buffer.alloc(4);
    header.writeUInt32BE(streamId);
    socket.send(Buffer.concat([header, data]), { binary: true });
    return true;
  }

  /** Bytes queued on the socket and not yet written: tunnels pause their TCP side above a bound. */
  get bufferedAmount(): number {
    return this.#socket?.bufferedAmount ?? 0;
  }

  /** Flushes what the lifecycle holds (e.g. `stopped`) and closes for good. */
  async stop(reason = "agent stopping"): Promise<void> {
    this.#stopped = true;
    if (this.#open) this.#flushLifecycle(false);
    const socket = this.#socket;
    if (socket && socket.readyState === WebSocket.OPEN) {
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      socket.close(1000, reason);
      const timer = setTimeout(() => socket.terminate(), 2_000);
      await closed;
      clearTimeout(timer);
    } else {
      socket?.terminate();
    }
    this.#wake?.();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      const outcome = await this.#connectOnce();
      if (this.#stopped) return;
      if (outcome.kind === "dismissed") {
        this.#stopped = true;
        this.#options.handlers.onDismissed(outcome.reason);
        return;
      }
      attempt = outcome.kind === "welcomed" ? 0 : attempt + 1;
      const jittered = backoffDelay(this.#options.backoff ?? defaultReconnectBackoff, attempt, this.#options.random);
      const wait = Math.max(jittered, outcome.kind === "welcomed" || outcome.kind === "failed" ? outcome.notBeforeMs : 0);
      this.#logger.info({ inMs: wait, attempt }, "reconnecting to the control plane");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** One connection, from dial to close. */
  #connectOnce(): Promise<{ kind: "welcomed" | "failed"; notBeforeMs: number } | { kind: "dismissed"; reason: string }> {
    return new Promise((resolve) => {
      let welcomed = false;
      // frames after welcome wait until the welcome is handled (the credential stored)
      let afterWelcome: Promise<void> = Promise.resolve();
      let notBeforeMs = 0;
      let dismissed: string | undefined;
      const socket = new WebSocket(this.#options.url, { perMessageDeflate: false, handshakeTimeout: 10_000, maxPayload: 16 * 1024 * 1024 });
      this.#socket = socket;
      const welcomeTimer = setTimeout(() => {
        this.#logger.warn({ url: this.#options.url }, "no welcome in time: closing");
        socket.terminate();
      }, this.#options.welcomeTimeoutMs ?? 15_000);

      socket.on("open", () => {
        this.#options
          .hello()
          .then((hello) => {
            if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(AgentToControlPlane.parse(hello)));
          })
          .catch((error: unknown) => {
            this.#logger.error({ err: error }, "cannot build hello");
            socket.terminate();
          });
      });
      socket.on("message", (data: RawData, isBinary: boolean) => {
        const buffer = toBuffer(data);
        if (isBinary) {
          if (welcomed && buffer.length >= 4) {
            afterWelcome = afterWelcome.then(() => this.#options.handlers.onTunnelData(buffer.readUInt32BE(0), buffer.subarray(4)));
          }
          return;
        }
        const parsed = parseControlPlaneFrame(buffer.toString("utf8"));
        if (!parsed.ok) {
          this.#logger.warn({ problem: parsed.error }, "ignoring a malformed frame from the control plane");
          return;
        }
        const message = parsed.message;
        if (!welcomed) {
          if (message.type === "welcome") {
            clearTimeout(welcomeTimer);
            welcomed = true;
            afterWelcome = this.#onWelcome(socket, message);
          } else if (message.type === "error") {
            this.#logger.error({ code: message.code, problem: message.message }, "the control plane refused this agent");
          } else {
            this.#logger.warn({ type: message.type }, "frame before welcome ignored");
          }
          return;
        }
        afterWelcome = afterWelcome.then(() => {
          if (socket !== this.#socket) return;
          const goodbye = this.#dispatch(message);
          if (goodbye) {
            if (goodbye.reconnectAfterMs === undefined) dismissed = goodbye.reason;
            else notBeforeMs = goodbye.reconnectAfterMs;
          }
        });
      });
      socket.on("error", (error) => this.#logger.warn({ err: error, url: this.#options.url }, "control-plane socket error"));
      socket.on("close", (code, reason) => {
        clearTimeout(welcomeTimer);
        const wasOpen = this.#open;
        this.#open = false;
        clearInterval(this.#heartbeatTimer);
        this.#heartbeatTimer = undefined;
        if (this.#socket === socket) this.#socket = undefined;
        if (wasOpen) this.#options.handlers.onDisconnected();
        this.#logger.info({ code, reason: reason.toString() }, "control-plane socket closed");
        if (dismissed !== undefined) resolve({ kind: "dismissed", reason: dismissed });
        else resolve({ kind: welcomed ? "welcomed" : "failed", notBeforeMs });
      });
    });
  }

  async #onWelcome(socket: WebSocket, welcome: WelcomeMessage): Promise<void> {
    try {
      await this.#options.handlers.onWelcome(welcome);
    } catch (error) {
      this.#logger.error({ err: error }, "handling welcome failed: closing");
      socket.terminate();
      return;
    }
    if (socket.readyState !== WebSocket.OPEN) return;
    this.#open = true;
    this.#connections += 1;
    this.#logger.info({ agentId: welcome.agentId, heartbeatIntervalMs: welcome.heartbeatIntervalMs }, "session open");
    this.#flushLifecycle(true);
    for (const message of this.#pendingReliable.splice(0)) this.sendReliably(message);
    const beat = () => {
      this.#options
        .health()
        .then((health) => this.send({ type: "heartbeat", seq: this.#heartbeatSeq++, health }))
        .catch((error: unknown) => this.#logger.warn({ err: error }, "health check failed"));
    };
    beat();
    this.#heartbeatTimer = setInterval(beat, welcome.heartbeatIntervalMs);
    this.#welcomed.resolve();
  }

  #flushLifecycle(freshSession: boolean): void {
    const messages = this.#options.lifecycle.takeUnsent(freshSession);
    for (const [i, message] of messages.entries()) {
      if (!this.send(message)) {
        this.#options.lifecycle.requeue(messages.slice(i));
        return;
      }
    }
  }

  /** Routes one message of an open session; returns a goodbye for the loop to honour. */
  #dispatch(message: ControlPlaneToAgent): Extract<ControlPlaneToAgent, { type: "goodbye" }> | undefined {
    switch (message.type) {
      case "welcome":
        this.#logger.warn({}, "a second welcome on one socket ignored");
        return undefined;
      case "assign":
      case "cancel":
      case "tunnel-open":
      case "tunnel-close":
        this.#options.handlers.onCommand(message);
        return undefined;
      case "goodbye":
        this.#logger.info({ reason: message.reason, reconnectAfterMs: message.reconnectAfterMs }, "the control plane said goodbye");
        return message;
      case "error":
        this.#logger.warn({ code: message.code, problem: message.message }, "the control plane reported an error");
        return undefined;
    }
  }

  /** Sends lifecycle transitions made while open right away. */
  flushLifecycle(): void {
    if (this.#open) this.#flushLifecycle(false);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
