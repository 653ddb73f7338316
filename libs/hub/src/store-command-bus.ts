import type { Store } from "@devenv/store";
import { z } from "zod";
import type { BusEvent, BusNotice, CommandBus } from "./command-bus.ts";
import type { HubLogger } from "./hub-logger.ts";
import { silentLogger } from "./hub-logger.ts";

/** The store notification channel the hubs of one store talk on. */
export const commandBusChannel = "devenv_agent_hub";

// typed against BusNotice so the two cannot drift apart
const BusNoticeSchema: z.ZodType<BusNotice> = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("command"), agentId: z.string().min(1), replicaId: z.string().min(1) }),
  z.object({ kind: z.literal("session-opened"), agentId: z.string().min(1), replicaId: z.string().min(1), openedAt: z.number() }),
  z.object({ kind: z.literal("disconnect"), agentIds: z.array(z.string().min(1)).max(1_000), reason: z.string().max(500), replicaId: z.string().min(1) }),
]);

export interface StoreCommandBusOptions {
  store: Pick<Store, "notifications">;
  logger?: HubLogger;
}

/**
 * A CommandBus over the store's notifications: NOTIFY between the replicas of one
 * PostgreSQL database, in-process on SQLite. The store's resync (its listening
 * connection came back, notices may be lost) becomes the bus's `resync`. The store is
 * the caller's: closing the bus ends its subscriptions, not the store.
 */
export class StoreCommandBus implements CommandBus {
  private readonly store: Pick<Store, "notifications">;
  private readonly logger: HubLogger;
  private readonly subscriptions: (() => Promise<void>)[] = [];
  private closed = false;

  constructor(options: StoreCommandBusOptions) {
    this.store = options.store;
    this.logger = options.logger ?? silentLogger;
  }

  async publish(notice: BusNotice): Promise<void> {
    await this.store.notifications.publish(commandBusChannel, JSON.stringify(notice));
  }

  async subscribe(listener: (event: BusEvent) => void): Promise<void> {
    if (this.closed) throw new Error("this command bus is closed");
    const unsubscribe = await this.store.notifications.subscribe(
      commandBusChannel,
      (payload) => {
        const notice = this.parse(payload);
        if (notice && !this.closed) listener(notice);
      },
      {
        onResync: () => {
          if (!this.closed) listener({ kind: "resync" });
        },
      },
    );
    this.subscriptions.push(unsubscribe);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.subscriptions.splice(0).map((unsubscribe) => unsubscribe()));
  }

  /** Another replica's bad payload must not reach the hub, nor stop the notices after it. */
  private parse(payload: string): BusNotice | undefined {
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      parsed = undefined;
    }
    const result = BusNoticeSchema.safeParse(parsed);
    if (result.success) return result.data;
    this.logger.warn({ payload: payload.slice(0, 200), issues: result.error.issues.slice(0, 3) }, "command bus: ignoring an unreadable notice");
    return undefined;
  }
}
