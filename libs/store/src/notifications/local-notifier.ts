import type { RepoContext } from "../support/context.ts";
import { checkNotification, ListenerSet, type Notifier } from "./notifier.ts";

/**
 * SQLite serves one process, so its notifications stay in it: every store opened on the
 * same file shares one of these. Delivered after commit, asynchronously, like NOTIFY.
 */
export function localNotifier(): Notifier {
  const listeners = new ListenerSet();
  return {
    async publish(ctx: RepoContext, channel, payload) {
      checkNotification(channel, payload);
      ctx.afterCommit(() => setImmediate(() => listeners.deliver(channel, payload)));
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
