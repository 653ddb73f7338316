import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./config-error.ts";

/** The process environment, or any map of variables standing in for it. */
export type EnvValues = Readonly<Record<string, string | undefined>>;

export const inlineSecretMessage = "put secrets in the environment ({ env: NAME }) or a file ({ file: PATH }), never inline";

/**
 * Where a secret is, never the secret itself: config files are copied, committed and
 * printed, so a secret written into one leaks with it.
 */
export const SecretRef = z.union(
  [
    z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name") }),
    z.strictObject({ file: z.string().min(1) }),
  ],
  { error: (issue) => (typeof issue.input === "string" ? inlineSecretMessage : "expected { env: NAME } or { file: PATH }") },
);
export type SecretRef = z.infer<typeof SecretRef>;

export interface ResolvedSecret {
  value: string;
  /** Something the caller should log (a secret file others can read); the secret is still usable. */
  warning: string | undefined;
}

/**
 * The secret a reference points at: the variable's value, or the file's content without
 * surrounding whitespace (editors add a final newline). A relative file path is taken
 * from `baseDir` (the config file's directory). Throws a ConfigError saying what is missing.
 */
export function resolveSecret(ref: SecretRef, env: EnvValues, options: { baseDir?: string } = {}): ResolvedSecret {
  if ("env" in ref) {
    const value = env[ref.env]?.trim();
    if (value === undefined) throw new ConfigError(`the environment variable ${ref.env} is not set (it should hold the secret)`);
    if (value === "") throw new ConfigError(`the environment variable ${ref.env} is empty (it should hold the secret)`);
    return { value, warning: undefined };
  }
  const path = resolve(options.baseDir ?? process.cwd(), ref.file);
  let content: string;
  let mode: number;
  try {
    content = readFileSync(path, "utf8");
    mode = statSync(path).mode;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError(`the secret file ${path} does not exist`, { cause: error });
    if (code === "EACCES") throw new ConfigError(`the secret file ${path} cannot be read by this user (permission denied)`, { cause: error });
    throw new ConfigError(`the secret file ${path} cannot be read: ${(error as Error).message}`, { cause: error });
  }
  const value = content.trim();
  if (value === "") throw new ConfigError(`the secret file ${path} is empty`);
  const openToOthers = (mode & 0o044) !== 0;
  const warning = openToOthers
    ? `the secret file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, "0")}); chmod 600 it`
    : undefined;
  return { value, warning };
}
