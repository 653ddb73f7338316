import { describe, expect, it } from "vitest";
import { normalizeEmail, normalizeName, normalizePhone } from "./normalize.ts";

describe("normalize", () => {
  it("emails: trimmed and lower-cased", () => {
    expect(normalizeEmail("  Ann.Lee+CRM@Corp.COM \n")).toBe("ann.lee+crm@corp.com");
  });

  it("phones: digits only, country code kept, 00 prefix and (0) trunk marker folded into the + form", () => {
    expect(normalizePhone("+1 (415) 555-0134")).toBe("14155550134");
    expect(normalizePhone("(415) 555-0134")).toBe("4155550134");
    expect(normalizePhone("+44 (0)20 7946 0958")).toBe("442079460958");
    expect(normalizePhone("0044 20 7946 0958")).toBe("442079460958");
    expect(normalizePhone("020 7946 0958")).toBe("02079460958");
    expect(normalizePhone("00123")).toBe("00123");
    expect(normalizePhone("＋１ ４１５ ５５５ ０１３４")).toBe("14155550134");
    expect(normalizePhone("n/a")).toBe("");
  });

  it("names: whitespace collapsed, lower-cased, accents stripped", () => {
    expect(normalizeName("  José   García\t")).toBe("jose garcia");
    expect(normalizeName("ZOË O’Brien")).toBe("zoe o’brien");
    expect(normalizeName("Jose\u0301")).toBe("jose");
  });
});
