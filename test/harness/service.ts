/** A real service the test run needs: either started by this run or reused. */
export interface RunningService<Info> {
  /** What tests need to reach the service (addresses, URLs). Must be JSON-serialisable. */
  readonly info: Info;
  /** True when this run started the service (and so must stop it). */
  readonly startedHere: boolean;
  /** Stops the service if this run started it; a no-op for a reused one. */
  stop(): Promise<void>;
}

/** Where services keep their downloads between runs (jars, virtualenvs). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEVENV_CACHE_DIR ?? `${env.HOME ?? "/root"}/.cache/devenv`;
}
