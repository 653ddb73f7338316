import { readFileSync } from "node:fs";
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { ConfigError } from "./config-error.ts";

/** A settings file as read: its top-level mapping, and where each value is written in it. */
export interface ConfigFileContents {
  path: string;
  settings: Record<string, unknown>;
  /**
   * `FILE:LINE:COL` of the value at `path` (of its key, for a key that is itself wrong);
   * for a key that is not there, of the line naming the mapping that should hold it, so
   * the reader knows where to add it.
   */
  locate(path: readonly PropertyKey[], target?: "value" | "key"): string;
  /** The same place as numbers, to list problems in file order. */
  position(path: readonly PropertyKey[], target?: "value" | "key"): { line: number; col: number };
}

/**
 * Reads a YAML file (JSON is YAML too, so JSON config files keep working). Undefined when
 * the file does not exist and is not required; a ConfigError with the line of each syntax
 * error otherwise.
 */
export function readConfigFile(path: string, required: boolean): ConfigFileContents | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !required) return undefined;
    if (code === "ENOENT") throw new ConfigError(`config file not found: ${path}`, { cause: error });
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`, { cause: error });
  }
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `${path}:${line}:${col}`;
  };
  if (document.errors.length > 0) {
    throw new ConfigError(document.errors.map((error) => `${at(error.pos[0])}: ${error.message}`));
  }
  const settings: unknown = document.toJS();
  if (settings !== null && (typeof settings !== "object" || Array.isArray(settings))) {
    throw new ConfigError(`${at(0)}: expected a mapping of settings (key: value lines) at the top of the file`);
  }
  return {
    path,
    settings: (settings ?? {}) as Record<string, unknown>,
    locate: (valuePath, target = "value") => at(offsetOf(document, valuePath, target)),
    position: (valuePath, target = "value") => lineCounter.linePos(offsetOf(document, valuePath, target)),
  };
}

function offsetOf(document: Document, path: readonly PropertyKey[], target: "value" | "key"): number {
  for (let depth = path.length; depth > 0; depth--) {
    const node = nodeAt(document, path.slice(0, depth));
    if (!node?.range) continue;
    if (depth === path.length) return (target === "key" ? keyOf(document, path)?.range?.[0] : undefined) ?? node.range[0];
    // a missing key: point at the key naming its mapping (a list item has no key: the item itself)
    return keyOf(document, path.slice(0, depth))?.range?.[0] ?? node.range[0];
  }
  return isNode(document.contents) ? (document.contents.range?.[0] ?? 0) : 0;
}

function nodeAt(document: Document, path: readonly PropertyKey[]): Node | undefined {
  const node: unknown = document.getIn(path, true);
  return isNode(node) ? node : undefined;
}

function keyOf(document: Document, path: readonly PropertyKey[]): Node | undefined {
  const parent = path.length === 1 ? document.contents : nodeAt(document, path.slice(0, -1));
  if (!isMap(parent)) return undefined;
  const name = path[path.length - 1];
  const pair = parent.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === name);
  return isNode(pair?.key) ? pair.key : undefined;
}
