import { describe, expect, it } from "vitest";
import { CodedError, errorMessage } from "./coded-error.ts";

type ParcelErrorCode = "lost" | "damaged";

class ParcelError extends CodedError<ParcelErrorCode> {
  constructor(code: ParcelErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "ParcelError";
  }
}

class UnnamedError extends CodedError<"x"> {}

describe("CodedError", () => {
  it("carries its code, name, message and cause", () => {
    const cause = new Error("truck broke down");
    const error = new ParcelError("lost", "parcel 7 is lost", { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: "lost", name: "ParcelError", message: "parcel 7 is lost", cause });
    expect(String(error)).toBe("ParcelError: parcel 7 is lost");
    expect("cause" in new ParcelError("lost", "no cause")).toBe(false);
    expect(new UnnamedError("x", "m").name).toBe("UnnamedError");
  });

  it("wraps an unknown error with its cause kept, and keeps its own as they are", () => {
    const original = new TypeError("cannot read 'weight'");
    const wrapped = ParcelError.wrap(original, "damaged", "weighing parcel 7");
    expect(wrapped).toBeInstanceOf(ParcelError);
    expect(wrapped).toMatchObject({ code: "damaged", message: "weighing parcel 7: cannot read 'weight'", cause: original });
    expect(ParcelError.wrap("plain text", "lost").message).toBe("plain text");

    const own = new ParcelError("lost", "parcel 8 is lost");
    expect(ParcelError.wrap(own, "damaged", "context")).toBe(own);
    // @ts-expect-error a code outside the class's closed set
    expect(ParcelError.wrap(original, "stolen").code).toBe("stolen");
  });

  it("says what was thrown, whatever it was", () => {
    expect(errorMessage(new Error("boom"))).toBe("boom");
    expect(errorMessage(42)).toBe("42");
    expect(errorMessage(undefined)).toBe("undefined");
  });
});
