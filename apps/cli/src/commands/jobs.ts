import { Command, InvalidArgumentError, Option } from "commander";
import { jobKinds, jobStates, type JobLogLineView, type JobView } from "@devenv/protocol";
import { CliError } from "../errors.ts";
import type { Output } from "../output.ts";
import type { CommandContext } from "../program.ts";
import { positiveInt } from "./options.ts";
import { apiSession, callApi, type ApiSession } from "./api-client.ts";
import { ago, formatTable } from "./api-client-views.ts";

/** The most log lines the control plane returns in one answer. */
const maxLogLines = 1000;

const jobsExamples = `
Jobs are the control plane's long work: shrinks that make snapshots, refreshes that roll
them out. Reading jobs needs the ops or admin role.

Examples:
  $ devenv jobs ls
  $ devenv jobs ls --state running --state queued --kind shrink
  $ devenv jobs logs 7d1e… --follow`;

export function jobsCommand(context: CommandContext): Command {
  const jobs = new Command("jobs").description("the control plane's jobs (shrinks, refreshes) and their logs").addHelpText("after", jobsExamples);

  jobs
    .command("ls")
    .description("recent jobs, newest first")
    .addOption(new Option("--state <state>", `only jobs in this state, repeatable (${jobStates.join(", ")})`).argParser(collectChoice("--state", jobStates)))
    .addOption(new Option("--kind <kind>", `only jobs of this kind, repeatable (${jobKinds.join(", ")})`).argParser(collectChoice("--kind", jobKinds)))
    .option("--limit <n>", "at most this many (default 50)", positiveInt("--limit", 1000), 50)
    .option("--parent <job>", "only the tasks of this job (e.g. a shrink's token-range tasks)")
    .option("--json", "print the jobs as JSON")
    .addHelpText("after", "\nExamples:\n  $ devenv jobs ls --state failed\n  $ devenv jobs ls --parent 7d1e…\n  $ devenv jobs ls --json | jq -r '.[0].id'")
    .action(async (flags: { state?: string[]; kind?: string[]; limit: number; parent?: string; json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      const list = await callApi(session, () =>
        session.client.jobs.list.query({ states: flags.state as JobView["state"][] | undefined, kinds: flags.kind as JobView["kind"][] | undefined, parentId: flags.parent, limit: flags.limit }),
      );
      output.result(list);
      if (list.length === 0) {
        output.line("no jobs");
        return;
      }
      const now = Date.now();
      const rows = list.map((job) => [job.id, job.kind, job.state, `${job.attempts}/${job.maxAttempts}`, ago(job.createdAt, now), job.finishedAt ? ago(job.finishedAt, now) : "–", oneLine(job.error ?? "")]);
      for (const line of formatTable(["ID", "KIND", "STATE", "TRIES", "CREATED", "FINISHED", "ERROR"], rows)) output.line(line);
    });

  jobs
    .command("logs")
    .description("a job's log; --follow keeps printing until the job ends (exit 1 if it fails)")
    .argument("<job>", "the job id (see `devenv jobs ls`)")
    .option("--follow", "print new lines as they come until the job has finished")
    .option("--lines <n>", "how many of the last lines to show first (default 100)", positiveInt("--lines", maxLogLines), 100)
    .option("--json", "print the job and its log as JSON (after the job ends, with --follow)")
    .addHelpText("after", "\nExamples:\n  $ devenv jobs logs 7d1e…\n  $ devenv jobs logs 7d1e… --follow --lines 20")
    .action(async (id: string, flags: { follow?: boolean; lines: number; json?: boolean }) => {
      const output = context.output(flags.json);
      const session = apiSession(context);
      if (flags.follow) {
        const shown = await followJob(session, output, id, flags.lines);
        output.result(shown);
        failIfUnsuccessful(shown.job);
        return;
      }
      const shown = await callApi(session, () => session.client.jobs.show.query({ id, logLines: flags.lines }));
      output.result(shown);
      for (const line of shown.log) output.line(formatLogLine(line));
      output.line(describeJob(shown.job));
    });

  return jobs;
}

const finished = new Set(["succeeded", "failed", "cancelled"]);

/** Prints the job's log as it grows until the job has finished; returns its last state and log. */
export async function followJob(session: ApiSession, output: Output, id: string, firstLines = 100) {
  let lastSeq = -Infinity;
  let logLines = firstLines;
  for (;;) {
    const shown = await callApi(session, () => session.client.jobs.show.query({ id, logLines }));
    for (const line of shown.log) {
      if (line.seq <= lastSeq) continue;
      output.line(formatLogLine(line));
      lastSeq = line.seq;
    }
    logLines = maxLogLines;
    if (finished.has(shown.job.state)) {
      output.line(describeJob(shown.job));
      return shown;
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

export function failIfUnsuccessful(job: JobView): void {
  if (job.state !== "succeeded") throw new CliError("failed", `job ${job.id} (${job.kind}) ${job.state}${job.error ? `: ${oneLine(job.error)}` : ""}`);
}

export function describeJob(job: JobView): string {
  const how = job.state === "failed" && job.error ? `: ${oneLine(job.error)}` : "";
  return `job ${job.id} (${job.kind}) ${job.state}${how}`;
}

function formatLogLine(line: JobLogLineView): string {
  return `${line.at} ${line.level.padEnd(5)} ${line.line}`;
}

function oneLine(text: string): string {
  const first = text.split("\n")[0] ?? "";
  return first.length > 120 ? `${first.slice(0, 117)}...` : first;
}

/** A repeatable flag whose values come from a closed list. */
function collectChoice(flag: string, choices: readonly string[]): (value: string, previous: string[] | undefined) => string[] {
  return (value, previous) => {
    if (!choices.includes(value)) throw new InvalidArgumentError(`${flag} must be one of ${choices.join(", ")}, got "${value}"`);
    return [...(previous ?? []), value];
  };
}
