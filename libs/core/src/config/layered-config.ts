import type { z } from "zod";
import { ConfigError } from "./config-error.ts";
import { readConfigFile } from "./config-file.ts";
import type { EnvValues, SecretRef } from "./secret-ref.ts";

/** A settings schema: an object (strict, so a misspelt key in a file is an error, not a silent default). */
export type SettingsSchema = z.ZodType<object, Record<string, unknown>>;
/** The top-level settings a schema takes: what env vars and flags may set. */
export type SettingName<S extends SettingsSchema> = Extract<keyof z.input<S>, string>;

/** Where a top-level value came from. */
export type ValueSource = { layer: "file"; at: string } | { layer: "env"; name: string } | { layer: "flag"; name: string } | { layer: "default" };

export function describeSource(source: ValueSource): string {
  switch (source.layer) {
    case "file":
      return source.at;
    case "env":
      return `env ${source.name}`;
    case "flag":
      return `flag ${source.name}`;
    case "default":
      return "default";
  }
}

export interface LayeredConfigOptions<S extends SettingsSchema> {
  schema: S;
  /** A YAML (or JSON) file; `required: false` lets a default path be absent. */
  file?: { path: string; required: boolean };
  env?: {
    values: EnvValues;
    /** The variable that sets each setting; an empty value counts as unset. */
    vars?: Partial<Record<SettingName<S>, string>>;
    /** Settings that hold a secret reference: a variable set here becomes `{ env: NAME }`, so the secret is read where it is used and never copied into the settings. */
    secrets?: Partial<Record<SettingName<S>, string>>;
  };
  flags?: {
    /** Each flag's value as parsed, undefined (or "") when not given. */
    values: Partial<Record<SettingName<S>, unknown>>;
    /** How each flag is spelt; default the setting in kebab case (`dataDir` → `--data-dir`). */
    names?: Partial<Record<SettingName<S>, string>>;
  };
  /** Values computed at run time (a directory under $HOME); constant defaults belong in the schema. */
  defaults?: Partial<z.input<S>>;
}

export interface LayeredConfig<S extends SettingsSchema> {
  value: z.output<S>;
  sources: Partial<Record<SettingName<S>, ValueSource>>;
  /** The same, as a log line would say it. */
  sourceOf: Partial<Record<SettingName<S>, string>>;
  /** A problem found after parsing (a secret that cannot be read), said like the schema's own: `<where>: <field.path>: <message>`. */
  problemAt(path: readonly PropertyKey[], message: string): string;
}

export const flagNameOf = (setting: string) => `--${setting.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/**
 * Settings from layers, later ones winning for each top-level setting: defaults, then the
 * file, then env, then flags. The merged settings are parsed by `schema` once; a ConfigError
 * lists every problem as `<where>: <field.path>: <message>`, where `<where>` is
 * FILE:LINE:COL for values from the file, `env NAME`, `flag --name`, `default`, or
 * `not set` for a required setting nobody gave.
 */
export function loadLayeredConfig<S extends SettingsSchema>(options: LayeredConfigOptions<S>): LayeredConfig<S> {
  const file = options.file ? readConfigFile(options.file.path, options.file.required) : undefined;
  const merged: Record<string, unknown> = {};
  const sources: Record<string, ValueSource> = {};
  const set = (setting: string, value: unknown, source: ValueSource) => {
    merged[setting] = value;
    sources[setting] = source;
  };

  for (const [setting, value] of Object.entries(options.defaults ?? {})) {
    if (value !== undefined) set(setting, value, { layer: "default" });
  }
  for (const [setting, value] of Object.entries(file?.settings ?? {})) set(setting, value, { layer: "file", at: file!.locate([setting]) });
  const env = options.env;
  for (const [setting, name] of entries(env?.vars)) {
    const value = env?.values[name];
    if (value !== undefined && value !== "") set(setting, value, { layer: "env", name });
  }
  for (const [setting, name] of entries(env?.secrets)) {
    const value = env?.values[name];
    if (value !== undefined && value !== "") set(setting, { env: name } satisfies SecretRef, { layer: "env", name });
  }
  const flagName = (setting: string) => (options.flags?.names as Record<string, string | undefined> | undefined)?.[setting] ?? flagNameOf(setting);
  for (const [setting, value] of Object.entries(options.flags?.values ?? {})) {
    if (value !== undefined && value !== "") set(setting, value, { layer: "flag", name: flagName(setting) });
  }

  const whereIs = (path: readonly PropertyKey[], target: "value" | "key"): string => {
    const setting = path[0];
    const source = typeof setting === "string" ? sources[setting] : undefined;
    if (source?.layer === "file" || (setting === undefined && file)) return file!.locate(path, target);
    return source ? describeSource(source) : "not set";
  };
  const problemAt = (path: readonly PropertyKey[], message: string, target: "value" | "key" = "value") => `${whereIs(path, target)}: ${formatPath(path)}: ${message}`;

  // problems in the file are listed in its order, after those of the other layers
  const fileOrder = (path: readonly PropertyKey[], target: "value" | "key"): number => {
    const setting = path[0];
    const inFile = file !== undefined && (setting === undefined || (typeof setting === "string" && sources[setting]?.layer === "file"));
    if (!inFile) return 0;
    const { line, col } = file.position(path, target);
    return line * 100_000 + col;
  };

  const parsed = options.schema.safeParse(merged);
  if (!parsed.success) {
    type Problem = { path: readonly PropertyKey[]; message: string; target: "value" | "key" };
    const problems = parsed.error.issues.flatMap((issue): Problem[] => {
      if (issue.code === "unrecognized_keys") return issue.keys.map((key) => ({ path: [...issue.path, key], message: "unknown key", target: "key" }));
      if (issue.code === "invalid_key") return [{ path: issue.path, message: issue.issues[0]?.message ?? issue.message, target: "key" }];
      if (issue.code === "invalid_type" && valueAt(merged, issue.path) === undefined) {
        return [{ path: issue.path, message: issue.path.length === 1 ? `missing: ${howToSet(String(issue.path[0]))}` : "missing", target: "value" }];
      }
      return [{ path: issue.path, message: issue.message, target: "value" }];
    });
    const listed = problems
      .map((problem, index) => ({ problem, index, order: fileOrder(problem.path, problem.target) }))
      .sort((a, b) => a.order - b.order || a.index - b.index)
      .map(({ problem }) => problemAt(problem.path, problem.message, problem.target));
    throw new ConfigError(listed, { cause: parsed.error });
  }

  function howToSet(setting: string): string {
    const ways = [
      ...(options.flags && setting in options.flags.values ? [flagName(setting)] : []),
      ...[env?.vars, env?.secrets].flatMap((names) => (names as Record<string, string | undefined> | undefined)?.[setting] ?? []),
      `"${setting}" in ${options.file?.path ?? "the config file"}`,
    ];
    return `give ${ways.length > 1 ? `${ways.slice(0, -1).join(", ")} or ${ways.at(-1)}` : ways[0]}`;
  }

  for (const setting of Object.keys(parsed.data)) sources[setting] ??= { layer: "default" };
  return {
    value: parsed.data,
    sources: sources as Partial<Record<SettingName<S>, ValueSource>>,
    sourceOf: Object.fromEntries(Object.entries(sources).map(([setting, source]) => [setting, describeSource(source)])) as Partial<Record<SettingName<S>, string>>,
    problemAt: (path, message) => problemAt(path, message),
  };
}

function entries(record: Partial<Record<string, string>> | undefined): [string, string][] {
  return Object.entries(record ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
}

/** `sources.production.contactPoints[0]` */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "(top level)";
  return path.map((part, index) => (typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`)).join("");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const part of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[part];
  }
  return value;
}
