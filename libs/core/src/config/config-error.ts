/**
 * Settings that cannot be used: every problem found at once, each naming where the value
 * came from (FILE:LINE:COL, env NAME, flag --name, default) and the field, so one run
 * tells the operator everything to fix.
 */
export class ConfigError extends Error {
  readonly code = "invalid-config";
  readonly problems: readonly string[];

  constructor(problems: string | readonly string[], options?: { cause?: unknown }) {
    const list = typeof problems === "string" ? [problems] : [...problems];
    super(list.join("\n"), options);
    this.name = "ConfigError";
    this.problems = list;
  }
}
