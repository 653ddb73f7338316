import { describe, expect, it } from "vitest";
import { parseCqlType } from "@devenv/snapshot";
import { Pseudonyms } from "../scrub/pseudonyms.ts";
import { compileTransform, type TransformContext } from "./cell-transform.ts";

const ctx: TransformContext = { pseudonyms: new Pseudonyms(Buffer.from("cell transform test secret 01234")), onPii: () => {}, onTransformed: () => {} };
const hash = (cqlType: string) => compileTransform("hash", parseCqlType(cqlType), [], ctx, true);

describe("hash transform", () => {
  it("keeps a timeuuid a version-1 UUID with the same time, and distinct inputs distinct", () => {
    const a = "8ebe69a8-e37c-11f1-8dd9-c1271af09f48";
    const b = "8ebe69a8-e37c-11f1-8dd9-c1271af09f49";
    const [ha, hb] = [hash("timeuuid")(a), hash("timeuuid")(b)] as string[];
    expect(ha).toMatch(/^8ebe69a8-e37c-11f1-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ha).not.toBe(a);
    expect(hb).not.toBe(ha);
    expect(hash("timeuuid")(a)).toBe(ha);
  });

  it("hashes varints of any width into integers", () => {
    const huge = (2n ** 100n + 7n).toString();
    for (const v of ["0", "-5", "9223372036854775807", huge, `-${huge}`]) {
      const out = hash("varint")(v);
      expect(typeof out === "string" && /^-?\d+$/.test(out), `${v} → ${String(out)}`).toBe(true);
      expect(hash("varint")(v)).toBe(out);
    }
  });
});
