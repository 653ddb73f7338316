import { readFile } from "node:fs/promises";
import { join } from "node:path";

/** The values infra/cloud-init/agent-user-data.yaml asks for, one per `{{placeholder}}`. */
export interface AgentUserDataValues {
  /** The control plane's agent endpoint, e.g. wss://devenv.example.com/agent. */
  control_plane_url: string;
  /** The instance's single-use join token. */
  join_token: string;
  /** Where the host downloads the agent release tarball (a signed URL). */
  agent_tarball_url: string;
  /** The data volume's mount point, e.g. /var/lib/cassandra. */
  cassandra_data_dir: string;
}

/** EC2 refuses user data above 16 KiB (before base64). */
export const maxUserDataBytes = 16 * 1024;

/** The template in this repository: infra/cloud-init/agent-user-data.yaml. */
export const defaultAgentUserDataPath = join(import.meta.dirname, "..", "..", "..", "infra", "cloud-init", "agent-user-data.yaml");

export async function readAgentUserDataTemplate(path = defaultAgentUserDataPath): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read the agent user-data template ${path}: ${(error as Error).message}`, { cause: error });
  }
}

const placeholder = /\{\{\s*([a-z_]+)\s*\}\}/g;

// The template puts values inside JSON strings, a double-quoted YAML scalar and a
// single-quoted shell word: a value may hold none of the characters that end those.
const unsafeCharacters = /["'\\`$\s{}]/;

const checks: { [K in keyof AgentUserDataValues]: (value: string) => string | undefined } = {
  control_plane_url: (value) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return "is not a URL";
    }
    return ["ws:", "wss:", "http:", "https:"].includes(url.protocol) ? undefined : "must be a ws(s):// or http(s):// URL";
  },
  join_token: (value) => (/^[A-Za-z0-9._~+/=-]+$/.test(value) ? undefined : "may only hold letters, digits and . _ ~ + / = -"),
  agent_tarball_url: (value) => {
    try {
      const url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:" ? undefined : "must be an http(s):// URL";
    } catch {
      return "is not a URL";
    }
  },
  cassandra_data_dir: (value) => (value.startsWith("/") ? undefined : "must be an absolute path"),
};

/**
 * Fills every `{{name}}` of the cloud-config template. Refuses (naming the field) a value
 * that could break out of its place in the YAML or shell, a placeholder it has no value
 * for, and a result EC2 would refuse as too large.
 */
export function renderAgentUserData(template: string, values: AgentUserDataValues): string {
  for (const [name, check] of Object.entries(checks) as [keyof AgentUserDataValues, (value: string) => string | undefined][]) {
    const value = values[name];
    if (typeof value !== "string" || value === "") throw new Error(`user data: ${name} is missing`);
    if (unsafeCharacters.test(value)) throw new Error(`user data: ${name} may not contain quotes, backslashes, $, braces or whitespace`);
    const problem = check(value);
    if (problem !== undefined) throw new Error(`user data: ${name} ${problem} (got ${name === "join_token" ? "a token" : value})`);
  }
  const unknown = new Set<string>();
  // comment lines (the template documents its placeholders) stay as written: the token
  // should appear once, where the agent reads it
  const rendered = template
    .split("\n")
    .map((line) =>
      line.trimStart().startsWith("#")
        ? line
        : line.replace(placeholder, (whole, name: string) => {
            if (Object.hasOwn(values, name)) return values[name as keyof AgentUserDataValues];
            unknown.add(name);
            return whole;
          }),
    )
    .join("\n");
  if (unknown.size > 0) throw new Error(`user data: the template asks for values devenv does not have: ${[...unknown].join(", ")}`);
  if (!rendered.startsWith("#cloud-config")) throw new Error("user data: the template must start with #cloud-config");
  const size = Buffer.byteLength(rendered, "utf8");
  if (size > maxUserDataBytes) throw new Error(`user data is ${size} bytes; EC2 accepts at most ${maxUserDataBytes}`);
  return rendered;
}
