import { readFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { ShrinkError } from "../errors.ts";
import type { ShrinkRules } from "./rules-schema.ts";

/** The pseudonym key named by the rules: an environment variable or a file (relative to the rules file). */
export async function resolveSecret(rules: ShrinkRules, rulesFile: string, env: NodeJS.ProcessEnv): Promise<Buffer> {
  let secret: Buffer;
  if ("env" in rules.secret) {
    const value = env[rules.secret.env];
    if (!value) throw new ShrinkError("secret-missing", `secret: set ${rules.secret.env} to the pseudonym key (at least 16 characters)`);
    secret = Buffer.from(value, "utf8");
  } else {
    const path = resolve(dirname(rulesFile), rules.secret.file);
    try {
      secret = await readFile(path);
    } catch (error) {
      throw new ShrinkError("secret-missing", `secret: cannot read ${path}: ${(error as Error).message}`, { cause: error });
    }
  }
  if (secret.length < 16) throw new ShrinkError("secret-missing", "secret: the pseudonym key must be at least 16 bytes");
  return secret;
}
