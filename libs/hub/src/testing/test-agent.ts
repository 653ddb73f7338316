import { hostname } from "node:os";
import {
  AgentToControlPlane,
  encodeTunnelFrame,
  parseControlPlaneFrame,
  protocolVersion as currentProtocolVersion,
} from "@devenv/protocol";
import type {
  AgentAuth,
  AgentCommand,
  AgentHealth,
  AgentIdentity,
  AgentLifecycleState,
  ControlPlaneToAgent,
  ErrorMessage,
  WelcomeMessage,
} from "@devenv/protocol";
import { WebSocket } from "ws";

export interface TestAgentOptions {
  /** ws://host:port/agent */
  url: string;
  auth: AgentAuth;
  identity?: Partial<AgentIdentity>;
  protocolVersion?: number;
  agentVersion?: string;
  /** Acknowledge every command on receipt; default false (tests ack by hand). */
  autoAck?: boolean;
  /** Keep every received message in `received`; default true. A benchmark fleet turns it off. */
  keepLog?: boolean;
  /** Called for every valid message, after auto-ack. */
  onMessage?: (message: ControlPlaneToAgent) => void;
  /** How long connect() waits for welcome; default 10 s. */
  welcomeTimeoutMs?: number;
}

export interface CloseInfo {
  code: number;
  reason: string;
}

/** connect() was answered with an error frame or a close instead of welcome. */
export class TestAgentRefusedError extends Error {
  readonly error: ErrorMessage | undefined;
  readonly close: CloseInfo | undefined;

  constructor(error: ErrorMessage | undefined, close: CloseInfo | undefined) {
    super(`refused: ${error ? `${error.code}: ${error.message}` : "no error frame"}${close ? ` (close ${close.code})` : ""}`);
    this.error = error;
    this.close = close;
  }
}

export const healthyAgentHealth: AgentHealth = {
  cassandra: { reachable: true, version: "5.0.8" },
  diskFreeBytes: 50 * 1024 ** 3,
  diskTotalBytes: 100 * 1024 ** 3,
  load1: 0.1,
};

/**
 * An agent that speaks the wire protocol and nothing more: it says hello, sends what it
 * is told to and records what it receives, parsing every frame with the protocol's
 * schemas. Tests and the hub benchmark drive it.
 */
export class TestAgent {
  readonly socket: WebSocket;
  /** Valid messages received, in order (unless keepLog is false). */
  readonly received: ControlPlaneToAgent[] = [];
  /** Frames from the control plane that failed the protocol's schemas: always a bug. */
  readonly invalidFrames: string[] = [];
  readonly closed: Promise<CloseInfo>;
  welcome: WelcomeMessage | undefined;
  private readonly options: TestAgentOptions;
  /** Pending waitFor calls: each sees every arriving message, and undefined when the socket closes. */
  private readonly waiters = new Set<(message: ControlPlaneToAgent | undefined) => void>();
  private heartbeatSeq = 0;
  private lifecycleSeq = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closeInfo: CloseInfo | undefined;

  private constructor(socket: WebSocket, options: TestAgentOptions) {
    this.socket = socket;
    this.options = options;
    this.closed = new Promise((resolve) => {
      socket.on("close", (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        clearInterval(this.heartbeatTimer);
        resolve(this.closeInfo);
        for (const waiter of [...this.waiters]) waiter(undefined);
      });
    });
    socket.on("error", () => {}); // surfaces as close
    socket.on("message", (data, isBinary) => {
      if (isBinary) return;
      const text = Buffer.isBuffer(data) ? data.toString("utf8") : Buffer.from(data as ArrayBuffer).toString("utf8");
      const parsed = parseControlPlaneFrame(text);
      if (!parsed.ok) {
        this.invalidFrames.push(text);
        return;
      }
      const message = parsed.message;
      if (message.type === "welcome") this.welcome = message;
      if (this.options.autoAck && "commandId" in message) this.ack(message.commandId);
      if (this.options.keepLog !== false) this.received.push(message);
      this.options.onMessage?.(message);
      for (const waiter of [...this.waiters]) waiter(message);
    });
  }

  /** Opens a socket without saying hello (for tests of what the hub does with strangers). */
  static async open(options: TestAgentOptions): Promise<TestAgent> {
    const socket = new WebSocket(options.url, { perMessageDeflate: false });
    const agent = new TestAgent(socket, options);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return agent;
  }

  /** Opens a socket, says hello and waits for welcome; throws TestAgentRefusedError otherwise. */
  static async connect(options: TestAgentOptions): Promise<TestAgent> {
    const agent = await TestAgent.open(options);
    agent.hello();
    const timeoutMs = options.welcomeTimeoutMs ?? 10_000;
    const answer = await agent.waitFor((m) => m.type === "welcome" || m.type === "error", timeoutMs).catch(() => undefined);
    if (answer?.type === "welcome") return agent;
    const close = answer ? await Promise.race([agent.closed, delay(timeoutMs).then(() => undefined)]) : agent.closeInfo;
    agent.terminate();
    throw new TestAgentRefusedError(answer?.type === "error" ? answer : undefined, close);
  }

  hello(): void {
    const { options } = this;
    this.send({
      type: "hello",
      protocolVersion: options.protocolVersion ?? currentProtocolVersion,
      agentVersion: options.agentVersion ?? "0.0.0-test",
      identity: { provider: "local", hostname: hostname(), ...options.identity },
      auth: options.auth,
    });
  }

  get agentId(): string {
    if (!this.welcome) throw new Error("no welcome received yet");
    return this.welcome.agentId;
  }

  /** Commands received so far, in order, redeliveries included. */
  commands(): AgentCommand[] {
    return this.received.filter((m): m is AgentCommand => "commandId" in m);
  }

  /** Sends a message after checking it against the protocol. */
  send(message: AgentToControlPlane): void {
    this.sendRaw(JSON.stringify(AgentToControlPlane.parse(message)));
  }

  /** Sends anything, valid or not. */
  sendRaw(frame: string | Buffer): void {
    this.socket.send(frame, { binary: typeof frame !== "string" });
  }

  /** Sends bytes on a tunnel stream (a binary frame). */
  sendTunnelData(streamId: number, data: Uint8Array): void {
    this.socket.send(encodeTunnelFrame(streamId, data), { binary: true });
  }

  heartbeat(health: AgentHealth = healthyAgentHealth): void {
    this.send({ type: "heartbeat", seq: ++this.heartbeatSeq, health });
  }

  /** Heartbeats every `intervalMs` (default: what welcome said) until closed. */
  startHeartbeats(intervalMs = this.welcome?.heartbeatIntervalMs ?? 10_000): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (this.socket.readyState === this.socket.OPEN) this.heartbeat();
    }, intervalMs);
  }

  /** Reports a lifecycle state; `seq` overrides the running sequence number (to replay stale frames). */
  lifecycle(state: AgentLifecycleState, options: { seq?: number; detail?: string } = {}): void {
    const seq = options.seq ?? ++this.lifecycleSeq;
    this.send({ type: "lifecycle", seq, state, at: new Date().toISOString(), ...(options.detail ? { detail: options.detail } : {}) });
  }

  ack(commandId: string): void {
    this.send({ type: "ack", commandId });
  }

  /**
   * The first message that matches: among those already received (from index `from`;
   * with keepLog off there are none), else the next one to arrive within `timeoutMs`.
   */
  waitFor(predicate: (message: ControlPlaneToAgent) => boolean, timeoutMs = 5_000, from = 0): Promise<ControlPlaneToAgent> {
    const found = this.received.slice(from).find(predicate);
    if (found) return Promise.resolve(found);
    const closedError = (close: CloseInfo) => new Error(`socket closed (${close.code} ${close.reason}) before the awaited message`);
    if (this.closeInfo) return Promise.reject(closedError(this.closeInfo));
    return new Promise((resolve, reject) => {
      const waiter = (message: ControlPlaneToAgent | undefined) => {
        if (message !== undefined && !predicate(message)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (message !== undefined) resolve(message);
        else reject(closedError(this.closeInfo ?? { code: 0, reason: "" }));
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching message within ${timeoutMs} ms; received: ${JSON.stringify(this.received.map((m) => m.type))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<CloseInfo> {
    clearInterval(this.heartbeatTimer);
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) this.socket.close(1000, "bye");
    return this.closed;
  }

  terminate(): void {
    clearInterval(this.heartbeatTimer);
    this.socket.terminate();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
