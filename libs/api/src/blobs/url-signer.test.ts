import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadSigningKey, UrlSigner } from "./url-signer.ts";

describe("UrlSigner", () => {
  const signer = new UrlSigner(Buffer.alloc(32, 7));
  const now = new Date("2026-11-25T10:00:00.000Z");

  it("accepts its own signature until the expiry, then says expired", () => {
    const query = signer.sign("snap-1", new Date(now.getTime() + 60_000));
    expect(signer.verify(query, now)).toEqual({ check: "ok", snapshotId: "snap-1" });
    expect(signer.verify(query, new Date(now.getTime() + 60_000)).check).toBe("expired");
  });

  it("refuses another key's signature, a changed snapshot or expiry, and garbage", () => {
    const query = signer.sign("snap-1", new Date(now.getTime() + 60_000));
    expect(new UrlSigner(Buffer.alloc(32, 8)).verify(query, now).check).toBe("invalid");
    for (const [name, value] of [["snapshot", "snap-2"], ["exp", String(Number(query.get("exp")) + 1)], ["sig", "00"], ["exp", "soon"]] as const) {
      const changed = new URLSearchParams(query);
      changed.set(name, value);
      expect(signer.verify(changed, now).check).toBe("invalid");
    }
    expect(signer.verify(new URLSearchParams(), now).check).toBe("invalid");
  });

  it("refuses keys shorter than 32 bytes", () => {
    expect(() => new UrlSigner(Buffer.alloc(16))).toThrow(/at least 32/);
  });
});

describe("loadSigningKey", () => {
  const dir = mkdtempSync(join(tmpdir(), "devenv-signing-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("creates a private key file on first run and reads the same key afterwards", () => {
    const file = join(dir, "secrets", "url-signing.key");
    const first = loadSigningKey({ file });
    expect(first).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadSigningKey({ file })).toEqual(first);
  });

  it("prefers DEVENV_URL_SIGNING_KEY and rejects a short one", () => {
    const hex = "ab".repeat(32);
    expect(loadSigningKey({ file: join(dir, "unused.key"), hexFromEnv: hex })).toEqual(Buffer.from(hex, "hex"));
    expect(() => loadSigningKey({ file: join(dir, "unused.key"), hexFromEnv: "abcd" })).toThrow(/64 hex digits/);
  });
});
