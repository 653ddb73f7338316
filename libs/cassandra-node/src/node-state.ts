import { readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** `<dataDir>/node.json`: written when the JVM is spawned, removed when it is stopped. */
export interface NodeRecord {
  name: string;
  pid: number;
  listenAddress: string;
  nativePort: number;
  storagePort: number;
  jmxPort: number;
  contactPoint: string;
  localDataCenter: string;
  version: string;
  heap: string;
  startedAt: string;
}

export function nodeRecordFile(dataDir: string): string {
  return join(dataDir, "node.json");
}

export function writeNodeRecord(dataDir: string, record: NodeRecord): void {
  const file = nodeRecordFile(dataDir);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(temp, file);
}

export function removeNodeRecord(dataDir: string): void {
  rmSync(nodeRecordFile(dataDir), { force: true });
}

/** The record, or undefined when there is none; a damaged file counts as none. */
export function readNodeRecord(dataDir: string): NodeRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(nodeRecordFile(dataDir), "utf8"));
  } catch {
    return undefined;
  }
  return parseNodeRecord(value);
}

function parseNodeRecord(value: unknown): NodeRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const str = (key: keyof NodeRecord) => (typeof v[key] === "string" ? (v[key] as string) : undefined);
  const int = (key: keyof NodeRecord) => (Number.isInteger(v[key]) ? (v[key] as number) : undefined);
  const record = {
    name: str("name"),
    pid: int("pid"),
    listenAddress: str("listenAddress"),
    nativePort: int("nativePort"),
    storagePort: int("storagePort"),
    jmxPort: int("jmxPort"),
    contactPoint: str("contactPoint"),
    localDataCenter: str("localDataCenter"),
    version: str("version"),
    heap: str("heap"),
    startedAt: str("startedAt"),
  };
  for (const field of Object.values(record)) if (field === undefined) return undefined;
  return record as NodeRecord;
}
