import type { Selectable } from "kysely";
import type { JobLogsTable } from "../database.ts";
import { StoreError } from "../errors.ts";
import { logLevels, type JobLogLine, type LogLevel } from "../model.ts";
import type { JobLogsRepo } from "../store.ts";
import { nowIso, pageLimit, requireOneOf, type RepoContext } from "../support/context.ts";

/** A log line is for people reading a job: longer ones are cut, not refused. */
export const maxLogLineLength = 8_192;

function toLogLine(row: Selectable<JobLogsTable>): JobLogLine {
  return { jobId: row.job_id, seq: Number(row.seq), at: row.at, level: row.level as LogLevel, line: row.line };
}

function cut(line: string): string {
  return line.length > maxLogLineLength ? `${line.slice(0, maxLogLineLength)}…` : line;
}

export function jobLogsRepo(ctx: RepoContext): JobLogsRepo {
  const { db } = ctx;
  return {
    async append(jobId, level, line) {
      const row = await db
        .insertInto("job_logs")
        .values({ job_id: jobId, at: nowIso(ctx), level: requireOneOf(level, logLevels, "level"), line: cut(line) })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toLogLine(row);
    },
    async appendMany(jobId, lines) {
      if (lines.length === 0) return;
      const at = nowIso(ctx);
      await db
        .insertInto("job_logs")
        .values(lines.map(({ level, line }) => ({ job_id: jobId, at, level: requireOneOf(level, logLevels, "level"), line: cut(line) })))
        .execute();
    },
    async tail(jobId, lines = 100) {
      const rows = await db
        .selectFrom("job_logs")
        .selectAll()
        .where("job_id", "=", jobId)
        .orderBy("seq", "desc")
        .limit(pageLimit({ limit: lines }))
        .execute();
      return rows.reverse().map(toLogLine);
    },
    async after(jobId, seq, page) {
      if (!Number.isSafeInteger(seq)) throw new StoreError("invalid-input", `seq must be a whole number, got ${seq}`);
      const rows = await db
        .selectFrom("job_logs")
        .selectAll()
        .where("job_id", "=", jobId)
        .where("seq", ">", seq)
        .orderBy("seq")
        .limit(pageLimit(page))
        .execute();
      return rows.map(toLogLine);
    },
  };
}
