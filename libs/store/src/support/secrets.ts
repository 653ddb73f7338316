import { createHash, randomBytes } from "node:crypto";

/**
 * Bearer secrets: a kind prefix (so a leaked string says what it is) and 32 random
 * bytes. Only the sha256 is stored; the plaintext exists once, in the creator's hands.
 */
export const secretKinds = { apiToken: "dvt_", agentCredential: "dva_", joinToken: "dvj_" } as const;
export type SecretKind = keyof typeof secretKinds;

export function newSecret(kind: SecretKind): string {
  return `${secretKinds[kind]}${randomBytes(32).toString("base64url")}`;
}

/** sha256 hex: the secrets are random, so a plain hash (no salt, no KDF) is enough. */
export function hashSecret(plaintext: string): string {
  return createHash("sha256").update(plaintext, "utf8").digest("hex");
}

/** What a token list shows: the kind prefix and the first characters of the secret. */
export function displayPrefix(plaintext: string): string {
  return plaintext.slice(0, 12);
}
