import type { Clock } from "@devenv/core";
import type { Store } from "@devenv/store";
import type { LivenessOf } from "../views.ts";
import { fleetPageView, scopeKey, type FleetScope } from "./fleet-view.ts";

export interface FleetFeedOptions {
  store: Store;
  liveness: LivenessOf;
  clock: Clock;
  /** How often the store is read while someone watches; default 1 s. */
  intervalMs?: number;
  onError?: (error: unknown) => void;
}

interface Watched {
  scope: FleetScope;
  listeners: Set<(json: string) => void>;
  /** The latest view sent, without its time, to tell a change from a tick. */
  lastContent: string | undefined;
  lastJson: string | undefined;
  timer: NodeJS.Timeout | undefined;
  stopped: boolean;
}

/**
 * Fleet views pushed on change: one poll of the store per scope while anyone watches it,
 * however many pages are open, and nothing when no one does.
 */
export class FleetFeed {
  readonly #o: Required<Omit<FleetFeedOptions, "onError">> & Pick<FleetFeedOptions, "onError">;
  readonly #watched = new Map<string, Watched>();

  constructor(options: FleetFeedOptions) {
    this.#o = { intervalMs: 1_000, ...options };
  }

  /** Calls `listener` with the current view at once (when known) and with every changed one; returns the unsubscribe. */
  subscribe(scope: FleetScope, listener: (json: string) => void): () => void {
    const key = scopeKey(scope);
    let watched = this.#watched.get(key);
    if (watched === undefined) {
      watched = { scope, listeners: new Set(), lastContent: undefined, lastJson: undefined, timer: undefined, stopped: false };
      this.#watched.set(key, watched);
      void this.#poll(watched);
    } else if (watched.lastJson !== undefined) {
      listener(watched.lastJson);
    }
    watched.listeners.add(listener);
    const entry = watched;
    return () => {
      entry.listeners.delete(listener);
      if (entry.listeners.size > 0) return;
      entry.stopped = true;
      clearTimeout(entry.timer);
      if (this.#watched.get(key) === entry) this.#watched.delete(key);
    };
  }

  close(): void {
    for (const watched of this.#watched.values()) {
      watched.stopped = true;
      clearTimeout(watched.timer);
    }
    this.#watched.clear();
  }

  async #poll(watched: Watched): Promise<void> {
    try {
      const view = await fleetPageView(this.#o.store, this.#o.liveness, this.#o.clock.date(), watched.scope);
      const { at: _at, ...content } = view;
      const contentJson = JSON.stringify(content);
      if (!watched.stopped && contentJson !== watched.lastContent) {
        watched.lastContent = contentJson;
        watched.lastJson = JSON.stringify(view);
        for (const listener of [...watched.listeners]) listener(watched.lastJson);
      }
    } catch (error) {
      this.#o.onError?.(error);
    }
    if (!watched.stopped) watched.timer = setTimeout(() => void this.#poll(watched), this.#o.intervalMs);
  }
}
