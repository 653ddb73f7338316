import { describe, expect, it } from "vitest";
import { SlackRequestVerifier, slackSignature } from "./slack-signature.ts";

const secret = "8f742231b10e8888abcd99yyyzzz85a5";
const nowMs = Date.parse("2026-11-25T10:00:00Z");
const ts = String(nowMs / 1000);

describe("SlackRequestVerifier", () => {
  it("matches Slack's documented example signature", () => {
    // https://api.slack.com/authentication/verifying-requests-from-slack
    const body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    expect(slackSignature(secret, "1531420618", body)).toBe("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
  });

  it("accepts a fresh signed request once; refuses unsigned, wrong, stale, future and replayed ones", () => {
    const verifier = new SlackRequestVerifier({ signingSecret: secret });
    const body = "user_id=U1&text=status";
    const signature = slackSignature(secret, ts, body);
    expect(verifier.verify({ timestamp: undefined, signature, body, nowMs })).toMatchObject({ ok: false, reason: expect.stringContaining("unsigned") });
    expect(verifier.verify({ timestamp: ts, signature: undefined, body, nowMs })).toMatchObject({ ok: false, reason: expect.stringContaining("unsigned") });
    expect(verifier.verify({ timestamp: ts, signature: slackSignature("another secret", ts, body), body, nowMs })).toMatchObject({ ok: false, reason: "wrong signature" });
    expect(verifier.verify({ timestamp: ts, signature: "v0=short", body, nowMs })).toMatchObject({ ok: false, reason: "wrong signature" });
    expect(verifier.verify({ timestamp: ts, signature, body: `${body}&x=1`, nowMs })).toMatchObject({ ok: false, reason: "wrong signature" });
    const stale = String(nowMs / 1000 - 301);
    expect(verifier.verify({ timestamp: stale, signature: slackSignature(secret, stale, body), body, nowMs })).toMatchObject({ ok: false, reason: expect.stringContaining("stale") });
    const future = String(nowMs / 1000 + 301);
    expect(verifier.verify({ timestamp: future, signature: slackSignature(secret, future, body), body, nowMs })).toMatchObject({ ok: false, reason: expect.stringContaining("stale") });
    expect(verifier.verify({ timestamp: "12ab", signature, body, nowMs })).toMatchObject({ ok: false });

    // the edge of the window still counts
    const edge = String(nowMs / 1000 - 300);
    expect(verifier.verify({ timestamp: edge, signature: slackSignature(secret, edge, body), body, nowMs })).toEqual({ ok: true });
    expect(verifier.verify({ timestamp: ts, signature, body, nowMs })).toEqual({ ok: true });
    expect(verifier.verify({ timestamp: ts, signature, body, nowMs: nowMs + 60_000 })).toMatchObject({ ok: false, reason: expect.stringContaining("replayed") });
  });

  it("remembers a bounded number of signatures, forgetting expired ones first", () => {
    const verifier = new SlackRequestVerifier({ signingSecret: secret, maxRemembered: 2 });
    const signed = (body: string, at: number) => {
      const timestamp = String(at / 1000);
      return { timestamp, signature: slackSignature(secret, timestamp, body), body };
    };
    const old = signed("a", nowMs - 299_000);
    const b = signed("b", nowMs);
    const c = signed("c", nowMs);
    expect(verifier.verify({ ...old, nowMs })).toEqual({ ok: true });
    expect(verifier.verify({ ...b, nowMs })).toEqual({ ok: true });
    // 2 s later `old` has left the window: it makes room, and `b` stays remembered
    expect(verifier.verify({ ...c, nowMs: nowMs + 2_000 })).toEqual({ ok: true });
    expect(verifier.verify({ ...b, nowMs: nowMs + 2_000 })).toMatchObject({ ok: false, reason: expect.stringContaining("replayed") });
    expect(verifier.verify({ ...c, nowMs: nowMs + 2_000 })).toMatchObject({ ok: false, reason: expect.stringContaining("replayed") });
    expect(verifier.verify({ ...old, nowMs: nowMs + 2_000 })).toMatchObject({ ok: false, reason: expect.stringContaining("stale") });
  });
});
