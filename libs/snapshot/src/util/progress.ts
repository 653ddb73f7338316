import type { TransferPhase, TransferProgress } from "@devenv/protocol";

type Counters = Pick<TransferProgress, "bytesDone" | "rowsDone" | "chunksDone">;
type Totals = Pick<TransferProgress, "bytesTotal" | "rowsTotal" | "chunksTotal">;

export interface ProgressReporter {
  /** Sets the phase and/or totals; `force` emits even inside the throttle window. */
  update(change: { phase?: TransferPhase } & Partial<Totals> & Partial<Counters>, force?: boolean): void;
  /** Adds to the counters. */
  add(delta: Partial<Counters>): void;
  snapshot(): TransferProgress;
}

/** Accumulates progress and emits it at most every `intervalMs` (phase changes always emit). */
export function progressReporter(
  operation: TransferProgress["operation"],
  emit: ((progress: TransferProgress) => void) | undefined,
  intervalMs = 250,
  clock: () => number = Date.now,
): ProgressReporter {
  const started = clock();
  let lastEmit = 0;
  const state: TransferProgress = { operation, phase: "plan", bytesDone: 0, rowsDone: 0, chunksDone: 0, elapsedSeconds: 0 };
  const snapshot = (): TransferProgress => ({ ...state, elapsedSeconds: (clock() - started) / 1000 });
  const maybeEmit = (force: boolean) => {
    if (!emit) return;
    const now = clock();
    if (!force && now - lastEmit < intervalMs) return;
    lastEmit = now;
    emit(snapshot());
  };
  return {
    update(change, force = false) {
      const phaseChanged = change.phase !== undefined && change.phase !== state.phase;
      Object.assign(state, change);
      maybeEmit(force || phaseChanged);
    },
    add(delta) {
      state.bytesDone += delta.bytesDone ?? 0;
      state.rowsDone += delta.rowsDone ?? 0;
      state.chunksDone += delta.chunksDone ?? 0;
      maybeEmit(false);
    },
    snapshot,
  };
}
