import { StoreError } from "../errors.ts";
import type { SubscribeOptions } from "../store.ts";
import type { RepoContext } from "../support/context.ts";

export type NotificationListener = (payload: string) => void;

/** How notifications travel: PostgreSQL NOTIFY between replicas, or an in-process bus for SQLite. */
export interface Notifier {
  publish(ctx: RepoContext, channel: string, payload: string): Promise<void>;
  subscribe(channel: string, listener: NotificationListener, options?: SubscribeOptions): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** PostgreSQL caps a NOTIFY payload just under 8000 bytes. */
export const maxNotificationPayloadBytes = 7_999;
const channelPattern = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkNotification(channel: string, payload?: string): void {
  if (!channelPattern.test(channel)) {
    throw new StoreError("invalid-input", `notification channel ${JSON.stringify(channel)} must be lowercase letters, digits and _ (at most 63, not starting with a digit)`);
  }
  if (payload !== undefined && Buffer.byteLength(payload, "utf8") > maxNotificationPayloadBytes) {
    throw new StoreError("invalid-input", `notification payload is ${Buffer.byteLength(payload, "utf8")} bytes; at most ${maxNotificationPayloadBytes}: send an id and let the receiver read the row`);
  }
}

/** Listeners by channel; shared by both notifiers. */
export class ListenerSet {
  readonly #byChannel = new Map<string, Set<NotificationListener>>();

  /** Returns true when this is the channel's first listener. */
  add(channel: string, listener: NotificationListener): boolean {
    let listeners = this.#byChannel.get(channel);
    const first = listeners === undefined;
    listeners ??= new Set();
    listeners.add(listener);
    this.#byChannel.set(channel, listeners);
    return first;
  }

  /** Returns true when the channel has no listeners left. */
  remove(channel: string, listener: NotificationListener): boolean {
    const listeners = this.#byChannel.get(channel);
    if (!listeners?.delete(listener)) return false;
    if (listeners.size > 0) return false;
    this.#byChannel.delete(channel);
    return true;
  }

  channels(): string[] {
    return [...this.#byChannel.keys()];
  }

  deliver(channel: string, payload: string): void {
    for (const listener of this.#byChannel.get(channel) ?? []) {
      // one listener's failure must not starve the others
      try {
        listener(payload);
      } catch {
        // listeners own their errors
      }
    }
  }
}
