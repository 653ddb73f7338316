import { describe, expect, it } from "vitest";
import { KeyOwners } from "./key-owners.ts";
import { Pseudonyms } from "./pseudonyms.ts";

const secret = Buffer.from("key-owners-test-secret-0123456789");

describe("KeyOwners", () => {
  it("lets one value claim its pseudonym again, and fails a second value naming the column and pseudonym", () => {
    const owners = new KeyOwners(secret);
    owners.claim("lead_by_phone.phone", '"+999 1234"', '"+1 212 555 0100"');
    owners.claim("lead_by_phone.phone", '"+999 1234"', '"+1 212 555 0100"');
    // the same pseudonym in another column is another key
    owners.claim("users.phone", '"+999 1234"', '"+33 1 23 45 67 89"');
    expect(() => owners.claim("lead_by_phone.phone", '"+999 1234"', '"+44 20 7946 0000"')).toThrow(
      /pseudonym collision in key column lead_by_phone\.phone: two distinct values map to "\+999 1234"/,
    );
    expect(owners.size).toBe(2);
  });

  it("merges the claims of parts, and finds a collision between two parts", () => {
    const a = new KeyOwners(secret);
    const b = new KeyOwners(secret);
    a.claim("t.k", "p1", "v1");
    b.claim("t.k", "p1", "v1");
    b.claim("t.k", "p2", "v2");
    const merged = new KeyOwners(secret);
    for (const part of [a, b]) for (const [owner, original] of part.entries()) merged.claimFingerprints(owner, original);
    expect(merged.size).toBe(2);
    const c = new KeyOwners(secret);
    c.claim("t.k", "p2", "v3");
    const [owner, original] = [...c.entries()][0]!;
    expect(() => merged.claimFingerprints(owner, original)).toThrow(/pseudonym collision in a key column/);
  });

  it("takes a million distinct key values' pseudonyms without a false collision, in 64 MiB (a Map of the strings: about 200 MB)", () => {
    const pseudonyms = new Pseudonyms(secret);
    const owners = new KeyOwners(secret);
    for (let i = 0; i < 1_000_000; i++) {
      const phone = `+1 212 ${String(i).padStart(7, "0")}`;
      owners.claim("lead_by_phone.phone", JSON.stringify(pseudonyms.phone(phone)), JSON.stringify(phone));
    }
    expect(owners.size).toBe(1_000_000);
    expect(owners.byteLength).toBeLessThanOrEqual(64 * 1024 * 1024);
  }, 60_000);
});
