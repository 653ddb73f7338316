import pg from "pg";
import { z } from "zod";
import { backoffDelay } from "@devenv/core";
import type { BusEvent, BusNotice, CommandBus } from "./command-bus.ts";
import type { HubLogger } from "./hub-logger.ts";
import { silentLogger } from "./hub-logger.ts";

export const defaultBusChannel = "devenv_agent_hub";

const Notice = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("command"), agentId: z.string().min(1), replicaId: z.string().min(1) }),
  z.object({ kind: z.literal("session-opened"), agentId: z.string().min(1), replicaId: z.string().min(1), openedAt: z.number() }),
]);

export interface PostgresCommandBusOptions {
  connectionString: string;
  channel?: string;
  /** First and largest wait before reconnecting the listening session. */
  reconnectDelayMs?: { min: number; max: number };
  logger?: HubLogger;
}

/**
 * A CommandBus over PostgreSQL LISTEN/NOTIFY: one dedicated session listens (a pooled
 * connection cannot hold a LISTEN), another sends. When the listening session drops,
 * it reconnects with backoff and then emits `resync`, since notices sent meanwhile are lost.
 */
export class PostgresCommandBus implements CommandBus {
  private readonly options: PostgresCommandBusOptions;
  private readonly channel: string;
  private readonly logger: HubLogger;
  private readonly sender: pg.Pool;
  private listener: ((event: BusEvent) => void) | undefined;
  private listening: pg.Client | undefined;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(options: PostgresCommandBusOptions) {
    this.options = options;
    this.channel = options.channel ?? defaultBusChannel;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.channel)) {
      throw new Error(`bus channel "${this.channel}" must be a lowercase SQL identifier`);
    }
    this.logger = options.logger ?? silentLogger;
    this.sender = new pg.Pool({ connectionString: options.connectionString, max: 2 });
    this.sender.on("error", (error) => this.logger.warn({ err: error }, "command bus: idle sender connection failed"));
  }

  async publish(notice: BusNotice): Promise<void> {
    await this.sender.query("select pg_notify($1, $2)", [this.channel, JSON.stringify(notice)]);
  }

  async subscribe(listener: (event: BusEvent) => void): Promise<void> {
    if (this.listener) throw new Error("this command bus already has a subscriber");
    this.listener = listener;
    await this.listen();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const client = this.listening;
    this.listening = undefined;
    await Promise.allSettled([client?.end(), this.sender.end()]);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.connectionString });
    client.on("notification", (message) => {
      if (message.channel !== this.channel || message.payload === undefined) return;
      const notice = this.parse(message.payload);
      if (notice) this.listener?.(notice);
    });
    client.on("error", (error) => {
      // errors of a session that is no longer (or not yet) the listening one are handled elsewhere
      if (this.listening !== client) return;
      this.logger.warn({ err: error }, "command bus: listening session failed");
      void client.end().catch(() => {});
      this.scheduleReconnect(0);
    });
    try {
      await client.connect();
      await client.query(`listen ${this.channel}`);
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.listening = client;
  }

  private scheduleReconnect(attempt: number): void {
    if (this.closed) return;
    this.listening = undefined;
    const { min, max } = this.options.reconnectDelayMs ?? { min: 100, max: 10_000 };
    const delay = backoffDelay({ initialMs: min, maxMs: max, jitter: "equal" }, attempt);
    this.reconnectTimer = setTimeout(() => {
      this.listen().then(
        () => this.listener?.({ kind: "resync" }),
        (error: unknown) => {
          this.logger.warn({ err: error, attempt }, "command bus: reconnecting the listening session failed");
          this.scheduleReconnect(attempt + 1);
        },
      );
    }, delay);
    this.reconnectTimer.unref();
  }

  private parse(payload: string): BusNotice | undefined {
    try {
      return Notice.parse(JSON.parse(payload));
    } catch (error) {
      this.logger.warn({ err: error, payload: payload.slice(0, 200) }, "command bus: ignoring an unreadable notice");
      return undefined;
    }
  }
}
