import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { LastRestore, Replication, SnapshotLocation } from "@devenv/protocol";
import { writeFileAtomic } from "../host/atomic-file.ts";

export const AssignmentStatus = z.enum(["queued", "running", "succeeded", "failed", "cancelled"]);
export type AssignmentStatus = z.infer<typeof AssignmentStatus>;

export const AssignmentRecord = z.object({
  idempotencyKey: z.string().min(1),
  assignmentId: z.string().min(1),
  snapshot: SnapshotLocation,
  targetKeyspace: z.string().min(1),
  replication: Replication.optional(),
  status: AssignmentStatus,
  error: z.string().optional(),
  updatedAt: z.iso.datetime(),
});
export type AssignmentRecord = z.infer<typeof AssignmentRecord>;

/** The agent's persisted memory of its work, one JSON file in the state folder. */
const AgentStateFile = z.object({
  version: z.literal(1),
  assignments: z.array(AssignmentRecord),
  currentSnapshotId: z.string().optional(),
  lastRestore: LastRestore.optional(),
});
type AgentStateFile = z.infer<typeof AgentStateFile>;

/** Finished assignments remembered, so a late duplicate delivery is still recognised. */
const finishedKept = 200;

/**
 * Assignments by idempotency key, persisted before anything acts on them: the same
 * assignment delivered twice, or again after a restart, maps to one record, and a
 * record left `running` by a crash is resumed at the next start.
 */
export class AssignmentState {
  readonly path: string;
  #state: AgentStateFile = { version: 1, assignments: [] };
  #writing: Promise<void> = Promise.resolve();

  private constructor(path: string) {
    this.path = path;
  }

  static async load(stateDir: string): Promise<AssignmentState> {
    const store = new AssignmentState(join(stateDir, "assignments.json"));
    let text: string | undefined;
    try {
      text = await readFile(store.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    if (text !== undefined) {
      const parsed = AgentStateFile.safeParse(JSON.parse(text));
      if (!parsed.success) throw new Error(`${store.path} is not a valid agent state file: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`);
      store.#state = parsed.data;
    }
    return store;
  }

  byKey(idempotencyKey: string): AssignmentRecord | undefined {
    return this.#state.assignments.find((a) => a.idempotencyKey === idempotencyKey);
  }

  byAssignmentId(assignmentId: string): AssignmentRecord | undefined {
    return this.#state.assignments.findLast((a) => a.assignmentId === assignmentId);
  }

  /** Unfinished assignments in the order they arrived: a crash's `running` one comes first. */
  unfinished(): AssignmentRecord[] {
    const open = this.#state.assignments.filter((a) => a.status === "running" || a.status === "queued");
    return [...open.filter((a) => a.status === "running"), ...open.filter((a) => a.status === "queued")];
  }

  get currentSnapshotId(): string | undefined {
    return this.#state.currentSnapshotId;
  }

  get lastRestore(): LastRestore | undefined {
    return this.#state.lastRestore;
  }

  async add(record: AssignmentRecord): Promise<void> {
    this.#state.assignments.push(record);
    await this.#save();
  }

  async update(idempotencyKey: string, change: Partial<Pick<AssignmentRecord, "status" | "error">>, now: Date): Promise<AssignmentRecord> {
    const record = this.byKey(idempotencyKey);
    if (!record) throw new Error(`no assignment with idempotency key ${idempotencyKey}`);
    Object.assign(record, change, { updatedAt: now.toISOString() });
    await this.#save();
    return record;
  }

  async recordRestore(lastRestore: LastRestore): Promise<void> {
    this.#state.lastRestore = lastRestore;
    if (lastRestore.ok) this.#state.currentSnapshotId = lastRestore.snapshotId;
    await this.#save();
  }

  /** Writes are serialised: each one writes the whole (small) file as it is then. */
  #save(): Promise<void> {
    const finished = this.#state.assignments.filter((a) => a.status !== "running" && a.status !== "queued");
    if (finished.length > finishedKept) {
      const drop = new Set(finished.slice(0, finished.length - finishedKept));
      this.#state.assignments = this.#state.assignments.filter((a) => !drop.has(a));
    }
    this.#writing = this.#writing.catch(() => {}).then(() => writeFileAtomic(this.path, `${JSON.stringify(this.#state, null, 1)}\n`, 0o600));
    return this.#writing;
  }
}
