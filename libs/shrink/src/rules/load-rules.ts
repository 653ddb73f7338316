import { readFile } from "node:fs/promises";
import { isMap, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { z } from "zod";
import { ShrinkError } from "../errors.ts";
import { ShrinkRules } from "./rules-schema.ts";

/** Reads and validates a rules file; errors name the file, line, path and field. */
export async function loadRules(path: string): Promise<ShrinkRules> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ShrinkError("invalid-rules", `cannot read rules file ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseRules(text, path);
}

export function parseRules(text: string, file = "rules"): ShrinkRules {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const at = lines.linePos(syntax.pos[0]);
    throw new ShrinkError("invalid-rules", `${file}:${at.line}:${at.col}: ${syntax.message.split("\n")[0]}`);
  }
  const parsed = ShrinkRules.safeParse(doc.toJS());
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 10).map((issue) => {
    const path = issue.path.map(String);
    const node = nodeAt(doc.contents, path);
    const where = node?.range ? (({ line, col }) => `${file}:${line}:${col}`)(lines.linePos(node.range[0])) : file;
    return `${where}: ${path.join(".") || "(root)"}: ${describeIssue(issue)}`;
  });
  throw new ShrinkError("invalid-rules", issues.join("\n"));
}

/** The JSON Schema of the rules file, for editors (`devenv shrink schema`). */
export function rulesJsonSchema(): unknown {
  return z.toJSONSchema(ShrinkRules, { io: "input", unrepresentable: "any" });
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") return `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  if (issue.code === "invalid_union") return "not a valid value here (see the rules reference in the README)";
  return issue.message;
}

function nodeAt(node: unknown, path: readonly string[]): Node | undefined {
  let current = node as Node | undefined;
  for (const key of path) {
    if (isMap(current)) {
      const pair = current.items.find((p) => String((p.key as { value?: unknown } | null)?.value ?? p.key) === key);
      if (!pair) return current;
      current = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(current)) {
      const item = current.items[Number(key)] as Node | undefined;
      if (!item) return current;
      current = item;
    } else {
      return current;
    }
  }
  return current;
}
