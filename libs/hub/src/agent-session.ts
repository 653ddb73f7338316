import type { AgentLifecycleState, ControlPlaneToAgent } from "@devenv/protocol";
import { ControlPlaneToAgent as ControlPlaneToAgentSchema } from "@devenv/protocol";
import type { WebSocket } from "ws";
import type { ClockTimer } from "@devenv/core";

export type SessionPhase = "awaiting-hello" | "open" | "closed";

/**
 * One agent socket. Inbound frames are handled one at a time (their effects reach the
 * backend in the order the agent sent them); deliveries of commands run in their own
 * queue so a slow outbox read never holds up heartbeats.
 */
export class AgentSession {
  readonly socket: WebSocket;
  readonly remoteAddress: string | undefined;
  phase: SessionPhase = "awaiting-hello";
  agentId: string | undefined;
  /** When welcome was sent (hub clock, ms). */
  openedAt = 0;
  malformedFrames = 0;
  helloTimer: ClockTimer | undefined;
  /** The lifecycle order is checked per session: a restarted agent begins again at `booting`. */
  lifecycleState: AgentLifecycleState | undefined;
  lastLifecycleSeq = -1;
  lastHeartbeatSeq = -1;
  /** Commands pushed down this socket: each goes once per session, again on the next one until acked. */
  readonly sentCommands = new Set<string>();
  private inbound: Promise<void> = Promise.resolve();
  private delivery: Promise<void> = Promise.resolve();
  private deliveryQueued = false;

  constructor(socket: WebSocket, remoteAddress: string | undefined) {
    this.socket = socket;
    this.remoteAddress = remoteAddress;
  }

  get isOpen(): boolean {
    return this.phase === "open" && this.socket.readyState === this.socket.OPEN;
  }

  /** Queues the handling of one inbound frame behind the previous ones. */
  runInbound(task: () => Promise<void>, onError: (error: unknown) => void): void {
    this.inbound = this.inbound.then(task).catch(onError);
  }

  /** Queues an outbox flush unless one is already waiting (it will see every newer command). */
  scheduleDelivery(task: () => Promise<void>, onError: (error: unknown) => void): void {
    if (this.deliveryQueued) return;
    this.deliveryQueued = true;
    this.delivery = this.delivery
      .then(() => {
        this.deliveryQueued = false;
        return task();
      })
      .catch(onError);
  }

  /** Sends one message after checking it against the protocol: the hub never sends what agents cannot parse. */
  send(message: ControlPlaneToAgent): void {
    const checked = ControlPlaneToAgentSchema.parse(message);
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(checked));
  }

  /** Sends an `error` frame (when possible) and closes. */
  fail(code: number, error: Extract<ControlPlaneToAgent, { type: "error" }>): void {
    this.send(error);
    this.close(code, error.message);
  }

  close(code: number, reason: string): void {
    this.helloTimer?.cancel();
    this.phase = "closed";
    // close reasons are limited to 123 bytes
    if (this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason.slice(0, 120));
  }
}
