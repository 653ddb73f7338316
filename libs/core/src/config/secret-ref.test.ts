import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { resolveSecret, SecretRef } from "./secret-ref.ts";

const dir = mkdtempSync(join(tmpdir(), "devenv-secret-ref-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("SecretRef", () => {
  it("takes { env: NAME } or { file: PATH } and refuses a secret written inline", () => {
    expect(SecretRef.parse({ env: "DEVENV_SLACK_SIGNING_SECRET" })).toEqual({ env: "DEVENV_SLACK_SIGNING_SECRET" });
    expect(SecretRef.parse({ file: "/etc/devenv/slack.secret" })).toEqual({ file: "/etc/devenv/slack.secret" });
    expect(SecretRef.safeParse("8f14e45fceea167a").error?.issues[0]?.message).toBe(
      "put secrets in the environment ({ env: NAME }) or a file ({ file: PATH }), never inline",
    );
    expect(SecretRef.safeParse({ vault: "x" }).error?.issues[0]?.message).toBe("expected { env: NAME } or { file: PATH }");
    expect(SecretRef.safeParse({ env: "not a name" }).success).toBe(false);
    expect(SecretRef.safeParse({ env: "A", file: "/b" }).success).toBe(false);
  });
});

describe("resolveSecret", () => {
  it("reads the variable, or the file without its surrounding whitespace", () => {
    expect(resolveSecret({ env: "TOKEN" }, { TOKEN: "s3cr3t" })).toEqual({ value: "s3cr3t", warning: undefined });
    const path = join(dir, "private.secret");
    writeFileSync(path, "from-file\n", { mode: 0o600 });
    chmodSync(path, 0o600);
    expect(resolveSecret({ file: path }, {})).toEqual({ value: "from-file", warning: undefined });
    expect(resolveSecret({ file: "private.secret" }, {}, { baseDir: dir }).value).toBe("from-file");
  });

  it("warns when others can read the secret file, and still returns the secret", () => {
    const path = join(dir, "open.secret");
    writeFileSync(path, "open");
    chmodSync(path, 0o644);
    expect(resolveSecret({ file: path }, {})).toEqual({ value: "open", warning: `the secret file ${path} is readable by group or others (mode 0644); chmod 600 it` });
  });

  it("says which variable or file is missing or empty", () => {
    expect(() => resolveSecret({ env: "ABSENT" }, {})).toThrow("the environment variable ABSENT is not set (it should hold the secret)");
    expect(() => resolveSecret({ env: "BLANK" }, { BLANK: " \n" })).toThrow("the environment variable BLANK is empty");
    expect(() => resolveSecret({ file: join(dir, "absent.secret") }, {})).toThrow(`the secret file ${join(dir, "absent.secret")} does not exist`);
    const empty = join(dir, "empty.secret");
    writeFileSync(empty, "\n", { mode: 0o600 });
    expect(() => resolveSecret({ file: empty }, {})).toThrow(`the secret file ${empty} is empty`);
  });
});
