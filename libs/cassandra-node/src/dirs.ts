import { accessSync, constants, existsSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { CassandraNodeError } from "./errors.ts";

/**
 * mkdir -p one level at a time: Node 24's recursive mkdirSync spins forever on a path it
 * cannot create under /proc, and the error should say which folder and what for.
 */
export function makeDirs(dir: string, purpose: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && d !== dirname(d); d = dirname(d)) missing.unshift(d);
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") continue;
      throw new CassandraNodeError("dir-unusable", `cannot create ${d} for ${purpose} (${code ?? (error as Error).message})`, { cause: error });
    }
  }
}

/** Fails early, creating nothing, when `dir` could not be created or written later. */
export function assertCanCreate(dir: string, purpose: string): void {
  let existing = dir;
  while (!existsSync(existing) && existing !== dirname(existing)) existing = dirname(existing);
  const problem = !statSync(existing).isDirectory() ? "not a directory" : !isWritable(existing) ? "not writable" : undefined;
  if (problem) throw new CassandraNodeError("dir-unusable", `cannot use ${dir} for ${purpose}: ${existing} is ${problem}`);
}

function isWritable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
