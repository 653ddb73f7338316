import { describe, expect, it } from "vitest";
import { testDir } from "../testing/temp-dir.ts";
import { KeyOwners } from "./key-owners.ts";
import { Pseudonyms } from "./pseudonyms.ts";

const secret = Buffer.from("key-owners-test-secret-0123456789");

describe("KeyOwners", () => {
  it("lets one row claim its key again, and fails when a second row claims it", () => {
    const owners = new KeyOwners(secret, testDir());
    owners.claim("lead_by_phone", '["+999 1234","lead-1"]', '["+1 212 555 0100","lead-1"]');
    owners.claim("lead_by_phone", '["+999 1234","lead-1"]', '["+1 212 555 0100","lead-1"]');
    // one number typed two ways, two leads: two rows still
    owners.claim("lead_by_phone", '["+999 1234","lead-2"]', '["(212) 555-0100","lead-2"]');
    // the same key in another table is another row
    owners.claim("users", '["+999 1234","lead-1"]', '["+33 1 23 45 67 89","lead-1"]');
    owners.seal();
    expect(owners.size).toBe(3);
    owners.close();

    const clash = new KeyOwners(secret, testDir());
    clash.claim("lead_by_phone", '["+999 1234","lead-1"]', '["+1 212 555 0100","lead-1"]');
    clash.claim("lead_by_phone", '["+999 1234","lead-1"]', '["(212) 555-0100","lead-1"]');
    expect(() => clash.seal()).toThrow(/pseudonym collision in a primary key: two distinct rows of the source would become one row/);
    clash.close();
  });

  it("merges the claims of parts, and finds a collision between two parts", () => {
    // each part in its own directory, as on its own host
    const part = (claims: [string, string][]) => {
      const owners = new KeyOwners(secret, testDir());
      for (const [key, original] of claims) owners.claim("t", key, original);
      return owners;
    };
    const a = part([["p1", "v1"]]);
    const b = part([["p1", "v1"], ["p2", "v2"]]);
    const merged = part([]);
    for (const owners of [a, b]) for (const batch of owners.batches()) merged.addBatch(batch);
    merged.seal();
    expect(merged.size).toBe(2);
    const c = part([["p2", "v3"]]);
    const clash = part([]);
    for (const owners of [a, b, c]) for (const batch of owners.batches()) clash.addBatch(batch);
    expect(() => clash.seal()).toThrow(/pseudonym collision in a primary key/);
    for (const owners of [a, b, c, merged, clash]) owners.close();
  });

  it("checks a million distinct key values' pseudonyms without a false collision, in fixed memory (a Map of the strings: about 200 MB)", () => {
    const pseudonyms = new Pseudonyms(secret);
    const owners = new KeyOwners(secret, testDir());
    for (let i = 0; i < 1_000_000; i++) {
      const phone = `+1 212 ${String(i).padStart(7, "0")}`;
      owners.claim("lead_by_phone", JSON.stringify([pseudonyms.phone(phone)]), JSON.stringify([phone]));
    }
    owners.seal();
    expect(owners.size).toBe(1_000_000);
    // the block index only (a key every 128 claims): claims are never looked up
    expect(owners.byteLength).toBeLessThanOrEqual(256 * 1024);
    owners.close();
  }, 120_000);
});
