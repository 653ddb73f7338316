import { describe, expect, it } from "vitest";
import { ForwardError } from "@devenv/forward";
import { CliError, exitCodeFor, toCliError } from "./errors.ts";

describe("toCliError", () => {
  it("keeps a CliError as it is", () => {
    const error = new CliError("conflict", "instance i-1 is draining");
    expect(toCliError(error)).toBe(error);
  });

  it("classifies a library error by its cliCode, keeping it as the cause", () => {
    const forward = new ForwardError("not-logged-in", "run `devenv login` first");
    const error = toCliError(forward);
    expect(error).toMatchObject({ name: "CliError", code: "config", message: "run `devenv login` first", cause: forward });
    expect(exitCodeFor(error.code)).toBe(2);
  });

  it("makes anything else a failure with its message and cause", () => {
    const plain = new TypeError("cannot read 'id'");
    expect(toCliError(plain)).toMatchObject({ code: "failed", message: "cannot read 'id'", cause: plain });
    expect(toCliError("text thrown")).toMatchObject({ code: "failed", message: "text thrown" });
    expect(toCliError(Object.assign(new Error("odd"), { cliCode: "not-a-code" })).code).toBe("failed");
  });
});
