import { homedir } from "node:os";
import { join } from "node:path";

/** Newest Cassandra 5.0 patch release on Maven Central when this was written. */
export const defaultCassandraVersion = "5.0.9";

/** Where downloads are kept between runs: env DEVENV_CACHE_DIR, else ~/.cache/devenv. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEVENV_CACHE_DIR || join(env.HOME ?? homedir(), ".cache", "devenv");
}
