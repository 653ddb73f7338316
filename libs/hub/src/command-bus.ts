/**
 * What replicas tell each other about agents:
 *  - `command`: a command was enqueued for the agent; whoever holds its socket delivers it;
 *  - `session-opened`: the agent connected to `replicaId`; any other replica still holding
 *    an older socket of that agent closes it.
 *  - `disconnect`: these agents may no longer speak for their instance (it ended); whoever
 *    holds their sockets closes them, and their tunnels with them.
 * A `resync` is local only: the bus may have missed notices (its connection dropped), so
 * the hub rereads the outbox of every agent it holds.
 */
export type BusNotice =
  | { kind: "command"; agentId: string; replicaId: string }
  | {
      kind: "session-opened";
      agentId: string;
      replicaId: string;
      /**
       * When the session was welcomed (the replica's clock, ms): notices travel
       * asynchronously, so one about an older session can arrive after a newer session
       * opened elsewhere, and must not close it. Replica clocks are assumed to agree
       * within the time an agent takes to reconnect.
       */
      openedAt: number;
    }
  | { kind: "disconnect"; agentIds: string[]; reason: string; replicaId: string };

export type BusEvent = BusNotice | { kind: "resync" };

/**
 * Fan-out between control-plane replicas. Delivery is best effort: the outbox in the
 * store is the truth, and a notice only says "look now".
 */
export interface CommandBus {
  publish(notice: BusNotice): Promise<void>;
  /** Starts delivering notices of every replica (its own included) to `listener`. */
  subscribe(listener: (event: BusEvent) => void): Promise<void>;
  close(): Promise<void>;
}

/** A bus for a single replica, or for several hubs inside one process. */
export class LocalCommandBus implements CommandBus {
  private readonly listeners = new Set<(event: BusEvent) => void>();

  async publish(notice: BusNotice): Promise<void> {
    this.emit(notice);
  }

  /** Hands an event to the subscribers directly, `resync` included (what a reconnecting bus does). */
  emit(event: BusEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  async subscribe(listener: (event: BusEvent) => void): Promise<void> {
    this.listeners.add(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
