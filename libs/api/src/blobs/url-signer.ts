import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** What a signature check says: only `ok` may be served. */
export type SignatureCheck = "ok" | "expired" | "invalid";

/**
 * Signs read access to one snapshot until an expiry: an HMAC-SHA-256 over the snapshot id
 * and the expiry, with a key only the control plane knows. The signature covers the
 * snapshot rather than one object because a chunk URL is a template (`{sha256}`); the
 * blob endpoint then serves only that snapshot's manifest and the chunks it lists.
 */
export class UrlSigner {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length < 32) throw new Error(`URL signing key is ${key.length} bytes; it needs at least 32`);
    this.#key = key;
  }

  /** Query parameters granting read access to the snapshot until `expiresAt`. */
  sign(snapshotId: string, expiresAt: Date): URLSearchParams {
    const exp = Math.floor(expiresAt.getTime() / 1000);
    return new URLSearchParams({ snapshot: snapshotId, exp: String(exp), sig: this.#mac(snapshotId, exp) });
  }

  /** Checks the parameters `sign` produced against `now`; absent or altered ones are `invalid`. */
  verify(query: URLSearchParams, now: Date): { check: SignatureCheck; snapshotId?: string } {
    const snapshotId = query.get("snapshot");
    const expText = query.get("exp");
    const sig = query.get("sig");
    if (!snapshotId || !expText || !sig || !/^\d{1,12}$/.test(expText) || !/^[0-9a-f]{64}$/.test(sig)) return { check: "invalid" };
    const exp = Number(expText);
    const expected = Buffer.from(this.#mac(snapshotId, exp), "hex");
    if (!timingSafeEqual(expected, Buffer.from(sig, "hex"))) return { check: "invalid" };
    // checked after the signature, so an expired answer is never given for a forged URL
    if (exp * 1000 <= now.getTime()) return { check: "expired", snapshotId };
    return { check: "ok", snapshotId };
  }

  #mac(snapshotId: string, exp: number): string {
    return createHmac("sha256", this.#key).update(`devenv-blob-v1\n${snapshotId}\n${exp}`).digest("hex");
  }
}

/**
 * The signing key: from `DEVENV_URL_SIGNING_KEY` (hex, shared by every replica of a
 * PostgreSQL deployment), else a file in the data dir created on first run (mode 0600).
 */
export function loadSigningKey(options: { file: string; hexFromEnv?: string }): Buffer {
  if (options.hexFromEnv !== undefined && options.hexFromEnv !== "") {
    if (!/^([0-9a-fA-F]{2}){32,}$/.test(options.hexFromEnv)) {
      throw new Error("DEVENV_URL_SIGNING_KEY must be at least 64 hex digits (e.g. `openssl rand -hex 32`)");
    }
    return Buffer.from(options.hexFromEnv, "hex");
  }
  if (existsSync(options.file)) return Buffer.from(readFileSync(options.file, "utf8").trim(), "hex");
  mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  // `wx`: of two processes starting on one data dir, the second reads the first one's key
  try {
    writeFileSync(options.file, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return Buffer.from(readFileSync(options.file, "utf8").trim(), "hex");
  }
  chmodSync(options.file, 0o600);
  return key;
}
