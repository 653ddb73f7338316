import { describe, expect, it } from "vitest";
import { normalizeName } from "../scrub/normalize.ts";
import { Pseudonyms } from "../scrub/pseudonyms.ts";
import { auditString, canHoldText } from "./audit-chunks.ts";
import { auditKeysOf, normalizeForAudit } from "./normalize-for-audit.ts";

const p = new Pseudonyms(Buffer.from("audit string test secret 0123456789"));

function filterOf(values: [Parameters<typeof normalizeForAudit>[0], string][]): Set<string> {
  const filter = new Set<string>();
  for (const [kind, value] of values) {
    for (const key of auditKeysOf(kind, value)) filter.add(key);
  }
  return filter;
}

describe("auditString", () => {
  it("finds raw emails, phones and cards, but not our reserved fakes, even in brackets", () => {
    expect(auditString("mail ann@corp.com or call (+44 20 7946 0958)", {}).map((f) => f.kind)).toEqual(["email", "phone"]);
    expect(auditString(`mail ${p.email("ann@corp.com")} or call (${p.phone("+44 20 7946 0958")})`, {})).toEqual([]);
    expect(auditString("card 4539 1488 0343 6467", {}).map((f) => f.kind)).toEqual(["card"]);
  });

  it("finds a source name in prose, without showing it", () => {
    const sourcePii = filterOf([["person", "Wei Silva"]]);
    const findings = auditString("forwarded to wei  SILVA yesterday", { sourcePii });
    expect(findings).toEqual([{ kind: "source-value", excerpt: "we*****VA" }]);
  });

  it("finds a source name whatever the script, case or stray combining mark between its words", () => {
    const sourcePii = filterOf([["person", "Οδυσσέας Παπαδόπουλος"], ["person", "José García"]]);
    expect(auditString("ΟΔΥΣΣΕΑΣ ΠΑΠΑΔΟΠΟΥΛΟΣ called", { sourcePii }).map((f) => f.kind)).toEqual(["source-value"]);
    expect(auditString("met JOSE  garcía and Jose\u0301 \u0301 Garci\u0301a", { sourcePii }).map((f) => f.kind)).toEqual(["source-value", "source-value"]);
    expect(auditString("José Garcías", { sourcePii })).toEqual([]);
  });

  it("normalises a run of words as the source value was normalised: word by word, joined", () => {
    for (const run of ["Οδυσσέας Παπαδόπουλος", "ΣΟΦΟΣ ΑΝΗΡ", "Jose\u0301 García", "O'Brien-Smith Ann", "ǅemal Ǆ", "ﷺ x", "Ｊｏｈｎ Ｓｍｉｔｈ", "İlknur Işık"]) {
      expect(run.split(" ").map(normalizeName).join(" "), run).toBe(normalizeName(run));
    }
  });

  it("does not take our fake email's words for a real name", () => {
    const sourcePii = filterOf([["person", "Wei Silva"]]);
    expect(auditString("sent to wei.silva.k3j5h7a9qz@example.com", { sourcePii })).toEqual([]);
  });

  it("never matches on values too weak to identify anyone: country codes, field names, short names", () => {
    const sourcePii = filterOf([["phone", "IN"], ["email", "EMAIL"], ["person", "Al"], ["phone", "12"]]);
    for (const text of ["IN", "India", "EMAIL", "Al", "12", ""]) expect(auditString(text, { sourcePii }), text).toEqual([]);
    expect(normalizeForAudit("phone", "Phone")).toBeUndefined();
    expect(normalizeForAudit("email", "n/a")).toBeUndefined();
  });
});

describe("canHoldText", () => {
  it("scans text, collections of text, UDTs and blobs, and skips types that cannot carry text", () => {
    for (const type of ["text", "varchar", "ascii", "map<text, int>", "frozen<list<tuple<int, text>>>", "frozen<address>", "blob", undefined]) {
      expect(canHoldText(type), String(type)).toBe(true);
    }
    for (const type of ["uuid", "timeuuid", "bigint", "timestamp", "set<inet>", "frozen<map<int, date>>", "vector<float, 3>", "counter"]) {
      expect(canHoldText(type), type).toBe(false);
    }
  });
});
