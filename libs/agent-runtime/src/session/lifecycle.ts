import { isBackwardTransition } from "@devenv/protocol";
import type { AgentLifecycleState, LifecycleMessage } from "@devenv/protocol";

/**
 * The agent's lifecycle as it reports it. Transitions are checked in one place
 * (the protocol's order, isBackwardTransition) and a backward one is refused, so the
 * control plane never sees the agent go back. Transitions made while no session is
 * open wait in `unsent` and are flushed, in order, once one is.
 */
export class LifecycleTracker {
  #state: AgentLifecycleState = "booting";
  #detail: string | undefined;
  #seq = 0;
  readonly #unsent: LifecycleMessage[] = [];
  readonly #now: () => Date;
  readonly #listeners = new Set<(state: AgentLifecycleState, detail: string | undefined) => void>();

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
    this.#unsent.push(this.#message("booting", undefined));
  }

  get state(): AgentLifecycleState {
    return this.#state;
  }

  get detail(): string | undefined {
    return this.#detail;
  }

  /** Whether the agent may move to `next` now. */
  canMoveTo(next: AgentLifecycleState): boolean {
    return next !== this.#state && !isBackwardTransition(this.#state, next);
  }

  /** Moves to `next` when allowed; returns whether it moved. Staying put is a no-op. */
  moveTo(next: AgentLifecycleState, detail?: string): boolean {
    if (!this.canMoveTo(next)) return false;
    this.#state = next;
    this.#detail = detail;
    this.#unsent.push(this.#message(next, detail));
    for (const listener of this.#listeners) listener(next, detail);
    return true;
  }

  onChange(listener: (state: AgentLifecycleState, detail: string | undefined) => void): void {
    this.#listeners.add(listener);
  }

  /**
   * Hands over the transitions not yet sent. A fresh session that has nothing pending
   * gets the current state again (with a new sequence number): the control plane
   * checks order per session and must learn where this one starts.
   */
  takeUnsent(freshSession: boolean): LifecycleMessage[] {
    if (this.#unsent.length === 0 && freshSession) return [this.#message(this.#state, this.#detail)];
    return this.#unsent.splice(0, this.#unsent.length);
  }

  /** Puts back messages a closed socket did not carry, ahead of newer ones. */
  requeue(messages: LifecycleMessage[]): void {
    this.#unsent.unshift(...messages);
  }

  #message(state: AgentLifecycleState, detail: string | undefined): LifecycleMessage {
    return { type: "lifecycle", seq: this.#seq++, state, at: this.#now().toISOString(), ...(detail === undefined ? {} : { detail: detail.slice(0, 2000) }) };
  }
}
