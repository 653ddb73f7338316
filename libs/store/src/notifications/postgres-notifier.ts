import { sql } from "kysely";
import pg from "pg";
import { backoffDelay, type BackoffPolicy } from "@devenv/core";
import type { RepoContext } from "../support/context.ts";
import { translateError } from "../support/translate-error.ts";
import { checkNotification, ListenerSet, type Notifier } from "./notifier.ts";

const reconnectBackoff: BackoffPolicy = { initialMs: 200, maxMs: 5_000, jitter: "equal" };

/**
 * NOTIFY goes through the store's executor, so inside a transaction it is sent on
 * commit. LISTEN needs a connection of its own that stays open: one per store, opened
 * on the first subscription, reconnected with backoff and jitter when it drops (what
 * was sent while it was down is lost: notifications are hints to re-read durable rows,
 * and each subscription's `onResync` says when to re-read them).
 */
export function postgresNotifier(url: string): Notifier {
  const listeners = new ListenerSet();
  /** Subscriptions with an `onResync`; `missed` once the connection they listened on dropped. */
  const resyncWatches = new Set<{ onResync: () => void; missed: boolean }>();
  let client: pg.Client | undefined;
  let connecting: Promise<pg.Client> | undefined;
  let closed = false;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;

  async function connect(): Promise<pg.Client> {
    const fresh = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    fresh.on("notification", (message) => listeners.deliver(message.channel, message.payload ?? ""));
    fresh.on("error", () => dropped(fresh));
    fresh.on("end", () => dropped(fresh));
    await fresh.connect();
    for (const channel of listeners.channels()) await fresh.query(`listen ${fresh.escapeIdentifier(channel)}`);
    return fresh;
  }

  function ensureConnected(): Promise<pg.Client> {
    if (client) return Promise.resolve(client);
    connecting ??= connect().then(
      (fresh) => {
        connecting = undefined;
        if (closed) {
          void fresh.end().catch(() => {});
          return fresh;
        }
        client = fresh;
        failures = 0;
        // connect() listened on every channel already: what is sent from now on arrives
        resyncMissed();
        return fresh;
      },
      (error: unknown) => {
        connecting = undefined;
        throw error;
      },
    );
    return connecting;
  }

  function dropped(which: pg.Client): void {
    if (client !== which) return;
    client = undefined;
    for (const watch of resyncWatches) watch.missed = true;
    void which.end().catch(() => {});
    scheduleReconnect();
  }

  function scheduleReconnect(): void {
    if (closed || reconnectTimer || listeners.channels().length === 0) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      ensureConnected().catch(() => {
        failures += 1;
        scheduleReconnect();
      });
    }, backoffDelay(reconnectBackoff, failures));
    reconnectTimer.unref();
  }

  function resyncMissed(): void {
    for (const watch of resyncWatches) {
      if (!watch.missed) continue;
      watch.missed = false;
      try {
        watch.onResync();
      } catch {
        // subscribers own their errors, as listeners do
      }
    }
  }

  return {
    async publish(ctx: RepoContext, channel, payload) {
      checkNotification(channel, payload);
      await sql`select pg_notify(${channel}, ${payload})`.execute(ctx.db);
    },
    async subscribe(channel, listener, options) {
      checkNotification(channel);
      const first = listeners.add(channel, listener);
      const watch = options?.onResync ? { onResync: options.onResync, missed: false } : undefined;
      if (watch) resyncWatches.add(watch);
      try {
        const listening = await ensureConnected();
        if (first && client === listening) await listening.query(`listen ${listening.escapeIdentifier(channel)}`);
      } catch (error) {
        listeners.remove(channel, listener);
        if (watch) resyncWatches.delete(watch);
        throw translateError(error, `listening on ${channel}`);
      }
      return async () => {
        if (watch) resyncWatches.delete(watch);
        if (!listeners.remove(channel, listener) || !client) return;
        await client.query(`unlisten ${client.escapeIdentifier(channel)}`).catch(() => {});
      };
    },
    async close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const open = client ?? (await connecting?.catch(() => undefined));
      client = undefined;
      await open?.end().catch(() => {});
    },
  };
}
