import { describe, expect, it } from "vitest";
import { Pseudonyms } from "../scrub/pseudonyms.ts";
import { auditString } from "./audit-chunks.ts";
import { BloomFilter } from "./bloom-filter.ts";
import { auditKeysOf } from "./normalize-for-audit.ts";
import { PseudonymOutputs } from "./pseudonym-outputs.ts";

const secret = Buffer.from("pseudonym-outputs-test-secret-0123");

describe("PseudonymOutputs", () => {
  it("knows each pseudonym in any case, and a key-mode name without its suffix", () => {
    const pseudonyms = new Pseudonyms(secret);
    const outputs = new PseudonymOutputs(secret);
    const keyName = pseudonyms.person("Ann Lee", { key: true });
    outputs.add(keyName);
    outputs.add("Wei Silva");
    expect(outputs.has("wei silva")).toBe(true);
    expect(outputs.has("WEI SILVA")).toBe(true);
    expect(outputs.has(keyName)).toBe(true);
    expect(outputs.has(keyName.replace(/ [a-z2-7]{10}$/, ""))).toBe(true);
    expect(outputs.has("Wei Silvas")).toBe(false);
    expect(outputs.size).toBe(3);
  });

  it("stops the audit from reporting our own fake that equals a real name", () => {
    const sourcePii = new BloomFilter(100, 1e-9);
    for (const key of auditKeysOf("person", "Wei Silva")) sourcePii.add(key);
    const outputs = new PseudonymOutputs(secret);
    expect(auditString("call Wei Silva", { sourcePii }).map((f) => f.kind)).toEqual(["source-value"]);
    outputs.add("Wei Silva");
    expect(auditString("call Wei Silva", { sourcePii, pseudonymOutputs: outputs })).toEqual([]);
  });

  it("carries its fingerprints to another instance of the same secret only", () => {
    const outputs = new PseudonymOutputs(secret);
    for (let i = 0; i < 1000; i++) outputs.add(`fake.${i}@example.com`);
    const merged = new PseudonymOutputs(secret);
    for (const hex of outputs.fingerprints()) merged.addFingerprint(hex);
    expect(merged.size).toBe(1000);
    expect(merged.has("FAKE.999@example.com")).toBe(true);
    const other = new PseudonymOutputs(Buffer.from("some-other-secret-0123456789"));
    for (const hex of outputs.fingerprints()) other.addFingerprint(hex);
    expect(other.has("fake.999@example.com")).toBe(false);
  });

  it("holds 100,000 pseudonyms in under 5 MB", () => {
    const outputs = new PseudonymOutputs(secret);
    for (let i = 0; i < 100_000; i++) outputs.add(`lara.fox.${i.toString(36).padStart(13, "0")}@example.net`);
    expect(outputs.size).toBe(100_000);
    expect(outputs.byteLength).toBeLessThan(5_000_000);
  });
});
