import { createHmac, timingSafeEqual } from "node:crypto";

/** Slack's window: a request whose timestamp is further than this from now is refused. */
export const slackSignatureWindowSeconds = 5 * 60;

/** Slack's v0 signature of a request: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`. */
export function slackSignature(signingSecret: string, timestamp: string, body: string): string {
  return `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
}

export type SlackVerdict = { ok: true } | { ok: false; reason: string };

/**
 * Checks one request's `X-Slack-Signature` and `X-Slack-Request-Timestamp` against the raw
 * body: signed, within the window of `now`, and never seen before (a replay carries the
 * same signature, since the timestamp is part of what is signed).
 */
export class SlackRequestVerifier {
  readonly #secret: string;
  readonly #replays: ReplayCache;

  constructor(options: { signingSecret: string; maxRemembered?: number }) {
    if (options.signingSecret === "") throw new Error("the Slack signing secret is empty");
    this.#secret = options.signingSecret;
    this.#replays = new ReplayCache(options.maxRemembered ?? 10_000);
  }

  verify(input: { timestamp: string | undefined; signature: string | undefined; body: string; nowMs: number }): SlackVerdict {
    const { timestamp, signature, body, nowMs } = input;
    if (timestamp === undefined || signature === undefined) return { ok: false, reason: "unsigned request: X-Slack-Signature and X-Slack-Request-Timestamp are required" };
    if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "malformed X-Slack-Request-Timestamp" };
    const ageSeconds = Math.abs(nowMs / 1000 - Number(timestamp));
    if (ageSeconds > slackSignatureWindowSeconds) return { ok: false, reason: "stale request: its timestamp is more than 5 minutes away from now" };
    const expected = Buffer.from(slackSignature(this.#secret, timestamp, body));
    const given = Buffer.from(signature);
    // the lengths are public (v0= plus 64 hex digits); only equal-length buffers are compared in constant time
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "wrong signature" };
    // only a valid signature is remembered, so forged requests cannot fill the cache
    if (!this.#replays.remember(signature, (Number(timestamp) + slackSignatureWindowSeconds) * 1000, nowMs)) return { ok: false, reason: "replayed request: this signature was seen already" };
    return { ok: true };
  }
}

/**
 * Signatures seen within the window, bounded: expired ones go first, then the oldest.
 * A signature only needs remembering until its timestamp leaves the window.
 */
class ReplayCache {
  readonly #max: number;
  /** signature → the time after which its request is stale anyway; insertion order is age order. */
  readonly #seen = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** False when the signature was seen already. */
  remember(signature: string, forgetAfterMs: number, nowMs: number): boolean {
    const until = this.#seen.get(signature);
    if (until !== undefined && until >= nowMs) return false;
    if (this.#seen.size >= this.#max) {
      for (const [key, expiry] of this.#seen) if (expiry < nowMs) this.#seen.delete(key);
      while (this.#seen.size >= this.#max) this.#seen.delete(this.#seen.keys().next().value!);
    }
    this.#seen.set(signature, forgetAfterMs);
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}
