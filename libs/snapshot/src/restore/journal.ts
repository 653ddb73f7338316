import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";

const JournalHeader = z.object({ snapshotId: z.string(), manifestSha256: z.string(), keyspace: z.string(), startedAt: z.string() });
// the ids Cassandra gave the tables it created: a keyspace dropped and created again since has others
const JournalEntry = z.union([
  z.object({ schemaCreated: z.literal(true), tableIds: z.record(z.string(), z.string()) }),
  z.object({ chunkDone: z.string() }),
]);
export type JournalIdentity = Omit<z.infer<typeof JournalHeader>, "startedAt">;
/** Table name to the id Cassandra gave it. */
export type TableIds = Readonly<Record<string, string>>;

/** What a killed restore had done: its schema (with the tables' ids) and the chunks loaded since. */
export interface JournalProgress {
  tableIds: TableIds;
  doneChunks: Set<string>;
}

/**
 * Append-only record of a restore's progress: once the schema is created and
 * then chunk by chunk, each entry written only after every write of that step
 * was acknowledged. A killed restore of the same snapshot into the same
 * keyspace, whose tables are still the ones it created, resumes from it;
 * anything else starts over.
 */
export class RestoreJournal {
  readonly path: string;
  readonly resumed: boolean;
  readonly doneChunks: ReadonlySet<string>;

  private constructor(path: string, resumed: boolean, doneChunks: Set<string>) {
    this.path = path;
    this.resumed = resumed;
    this.doneChunks = doneChunks;
  }

  /**
   * What the journal at `path` recorded, if it belongs to the same restore and
   * the target still holds the very tables it created (`currentTableIds`, as
   * the node has them now); changes nothing.
   */
  static async read(path: string, identity: JournalIdentity, currentTableIds: TableIds): Promise<JournalProgress | undefined> {
    const previous = await readFile(path, "utf8").catch(() => undefined);
    if (previous === undefined) return undefined;
    const [headerLine, ...lines] = previous.split("\n").filter((l) => l.length > 0);
    const header = headerLine ? JournalHeader.safeParse(safeJson(headerLine)) : undefined;
    if (
      !header?.success ||
      header.data.snapshotId !== identity.snapshotId ||
      header.data.manifestSha256 !== identity.manifestSha256 ||
      header.data.keyspace !== identity.keyspace
    ) {
      return undefined;
    }
    let tableIds: TableIds | undefined;
    const doneChunks = new Set<string>();
    for (const line of lines) {
      // a torn last line (killed mid-append) is simply not counted
      const entry = JournalEntry.safeParse(safeJson(line));
      if (!entry.success) continue;
      if ("tableIds" in entry.data) tableIds = entry.data.tableIds;
      else doneChunks.add(entry.data.chunkDone);
    }
    // killed before its schema existed, nothing was loaded; a target dropped or recreated since has lost what was
    if (tableIds === undefined || !sameTableIds(tableIds, currentTableIds)) return undefined;
    return { tableIds, doneChunks };
  }

  /** Resumes `previous` (what read() returned), or starts a fresh journal when there is none. */
  static async open(path: string, identity: JournalIdentity, previous: JournalProgress | undefined, now: Date): Promise<RestoreJournal> {
    if (previous) return new RestoreJournal(path, true, previous.doneChunks);
    await mkdir(dirname(path), { recursive: true });
    await rm(path, { force: true });
    await appendFile(path, `${JSON.stringify({ ...identity, startedAt: now.toISOString() })}\n`);
    return new RestoreJournal(path, false, new Set());
  }

  async markSchemaCreated(tableIds: TableIds): Promise<void> {
    await appendFile(this.path, `${JSON.stringify({ schemaCreated: true, tableIds })}\n`);
  }

  async markChunkDone(chunkKey: string): Promise<void> {
    await appendFile(this.path, `${JSON.stringify({ chunkDone: chunkKey })}\n`);
  }

  /** The restore finished: nothing left to resume. */
  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

export function sameTableIds(a: TableIds, b: TableIds): boolean {
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => a[name] === b[name]);
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
