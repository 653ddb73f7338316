import { AsyncResource } from "node:async_hooks";
import type { RepoContext } from "../support/context.ts";
import { checkNotification, ListenerSet, type Notifier } from "./notifier.ts";

/**
 * SQLite serves one process, so its notifications stay in it: every store opened on the
 * same file shares one of these. Delivered after commit, asynchronously, like NOTIFY.
 */
export function localNotifier(): Notifier {
  const listeners = new ListenerSet();
  // listeners run outside the publisher's async context: a publish from inside a
  // transaction must not make a listener's reads look like part of that (finished) transaction
  const deliver = AsyncResource.bind((channel: string, payload: string) => listeners.deliver(channel, payload));
  return {
    async publish(ctx: RepoContext, channel, payload) {
      checkNotification(channel, payload);
      ctx.afterCommit(() => setImmediate(() => deliver(channel, payload)));
    },
    async subscribe(channel, listener) {
      checkNotification(channel);
      listeners.add(channel, listener);
      return async () => {
        listeners.remove(channel, listener);
      };
    },
    async close() {},
  };
}
