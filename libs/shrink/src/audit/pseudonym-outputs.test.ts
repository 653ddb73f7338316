import { describe, expect, it } from "vitest";
import { Pseudonyms } from "../scrub/pseudonyms.ts";
import { testDir } from "../testing/temp-dir.ts";
import { auditString } from "./audit-chunks.ts";
import { auditKeysOf } from "./normalize-for-audit.ts";
import { PseudonymOutputs } from "./pseudonym-outputs.ts";
import { SourcePii } from "./source-pii.ts";

const secret = Buffer.from("pseudonym-outputs-test-secret-0123");

describe("PseudonymOutputs", () => {
  it("knows each pseudonym in any case, and a key-mode name without its suffix", () => {
    const pseudonyms = new Pseudonyms(secret);
    const outputs = new PseudonymOutputs(secret, testDir());
    const keyName = pseudonyms.person("Ann Lee", { key: true });
    outputs.add(keyName);
    outputs.add("Wei Silva");
    outputs.add("WEI SILVA");
    expect(() => outputs.has("wei silva")).toThrow(/before it is sealed/);
    outputs.seal();
    expect(outputs.has("wei silva")).toBe(true);
    expect(outputs.has("WEI SILVA")).toBe(true);
    expect(outputs.has(keyName)).toBe(true);
    expect(outputs.has(keyName.replace(/ [a-z2-7]{10}$/, ""))).toBe(true);
    expect(outputs.has("Wei Silvas")).toBe(false);
    expect(outputs.size).toBe(3);
    outputs.close();
  });

  it("stops the audit from reporting our own fake that equals a real name", () => {
    const sourcePii = new SourcePii({ secret, dir: testDir() });
    for (const key of auditKeysOf("person", "Wei Silva")) sourcePii.add(key);
    sourcePii.seal();
    const outputs = new PseudonymOutputs(secret, testDir());
    outputs.add("Wei Silva");
    outputs.seal();
    expect(auditString("call Wei Silva", { sourcePii }).map((f) => f.kind)).toEqual(["source-value"]);
    expect(auditString("call Wei Silva", { sourcePii, pseudonymOutputs: outputs })).toEqual([]);
    sourcePii.close();
    outputs.close();
  });

  it("carries its fingerprints to another instance of the same secret only", () => {
    const outputs = new PseudonymOutputs(secret, testDir());
    for (let i = 0; i < 10_000; i++) outputs.add(`fake.${i}@example.com`);
    const merged = new PseudonymOutputs(secret, testDir());
    for (const batch of outputs.batches()) merged.addBatch(batch);
    merged.seal();
    expect(merged.size).toBe(10_000);
    expect(merged.has("FAKE.9999@example.com")).toBe(true);
    const other = new PseudonymOutputs(Buffer.from("some-other-secret-0123456789"), testDir());
    for (const batch of outputs.batches()) other.addBatch(batch);
    other.seal();
    expect(other.has("fake.9999@example.com")).toBe(false);
    for (const o of [outputs, merged, other]) o.close();
  });
});

describe("SourcePii", () => {
  it("answers exactly for 300,000 values after sealing, merges parts, and holds 4 to 8 bytes a value", () => {
    const dir = testDir();
    const a = new SourcePii({ secret, dir, bufferRecords: 20_000 });
    for (let i = 0; i < 300_000; i++) a.add(`email:person${i}@corp.example`);
    a.seal();
    expect(a.size).toBe(300_000);
    expect(a.byteLength).toBeLessThan(300_000 * 8.2 + (1 << 18));
    for (let i = 0; i < 300_000; i += 997) expect(a.has(`email:person${i}@corp.example`)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 300_000; i++) if (a.has(`email:someone${i}@corp.example`)) falsePositives++;
    expect(falsePositives).toBe(0);
    const merged = new SourcePii({ secret, dir: testDir() });
    for (const batch of a.batches()) merged.addBatch(batch);
    merged.add("words:ann lee");
    merged.seal();
    expect(merged.size).toBe(300_001);
    expect(merged.has("words:ann lee") && merged.has("email:person299999@corp.example")).toBe(true);
    a.close();
    merged.close();
  });
});
