import { describe, expect, it } from "vitest";
import { Duration, durationMs } from "./duration.ts";

describe("Duration", () => {
  it("reads seconds, minutes, hours, days and milliseconds, and a number as milliseconds", () => {
    expect(Duration.parse("90s")).toBe(90_000);
    expect(Duration.parse("15m")).toBe(900_000);
    expect(Duration.parse("2h")).toBe(7_200_000);
    expect(Duration.parse("14d")).toBe(1_209_600_000);
    expect(Duration.parse("500ms")).toBe(500);
    expect(Duration.parse("0s")).toBe(0);
    expect(Duration.parse(1_500)).toBe(1_500);
  });

  it("refuses what is not a duration, with the accepted forms in the message", () => {
    for (const wrong of ["12", "2 hours", "1.5h", "-1m", "h", true, null]) {
      const result = Duration.safeParse(wrong);
      expect(result.success, String(wrong)).toBe(false);
      expect(result.error?.issues[0]?.message, String(wrong)).toBe("expected a duration such as 90s, 15m, 2h or 14d (or a number of milliseconds)");
    }
    expect(Duration.safeParse(-5).success).toBe(false);
    expect(Duration.safeParse(1.5).success).toBe(false);
    expect(durationMs("3w")).toBeUndefined();
  });
});
