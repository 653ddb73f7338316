import { appendFile, mkdir, readFile, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";

const JournalHeader = z.object({ snapshotId: z.string(), manifestSha256: z.string(), keyspace: z.string(), startedAt: z.string() });
const JournalEntry = z.union([z.object({ schemaCreated: z.literal(true) }), z.object({ chunkDone: z.string() })]);
export type JournalIdentity = Omit<z.infer<typeof JournalHeader>, "startedAt">;

/**
 * Append-only record of a restore's progress: once the schema is created and
 * then chunk by chunk, each entry written only after every write of that step
 * was acknowledged. A killed restore of the same snapshot into the same
 * keyspace resumes from it; anything else starts over.
 */
export class RestoreJournal {
  readonly path: string;
  readonly resumed: boolean;
  readonly schemaCreated: boolean;
  readonly doneChunks: ReadonlySet<string>;

  private constructor(path: string, resumed: boolean, schemaCreated: boolean, doneChunks: Set<string>) {
    this.path = path;
    this.resumed = resumed;
    this.schemaCreated = schemaCreated;
    this.doneChunks = doneChunks;
  }

  /** What the journal at `path` recorded, if it belongs to the same restore; changes nothing. */
  static async read(path: string, identity: JournalIdentity): Promise<{ schemaCreated: boolean; doneChunks: Set<string> } | undefined> {
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
    let schemaCreated = false;
    const doneChunks = new Set<string>();
    for (const line of lines) {
      // a torn last line (killed mid-append) is simply not counted
      const entry = JournalEntry.safeParse(safeJson(line));
      if (!entry.success) continue;
      if ("schemaCreated" in entry.data) schemaCreated = true;
      else doneChunks.add(entry.data.chunkDone);
    }
    return { schemaCreated, doneChunks };
  }

  /** Reads the journal at `path` if it belongs to the same restore; otherwise starts a fresh one. */
  static async open(path: string, identity: JournalIdentity, now: Date): Promise<RestoreJournal> {
    const previous = await RestoreJournal.read(path, identity);
    if (previous) return new RestoreJournal(path, true, previous.schemaCreated, previous.doneChunks);
    await mkdir(dirname(path), { recursive: true });
    await rm(path, { force: true });
    await appendFile(path, `${JSON.stringify({ ...identity, startedAt: now.toISOString() })}\n`);
    return new RestoreJournal(path, false, false, new Set());
  }

  async markSchemaCreated(): Promise<void> {
    await appendFile(this.path, `${JSON.stringify({ schemaCreated: true })}\n`);
  }

  async markChunkDone(chunkKey: string): Promise<void> {
    await appendFile(this.path, `${JSON.stringify({ chunkDone: chunkKey })}\n`);
  }

  /** The restore finished: nothing left to resume. */
  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
