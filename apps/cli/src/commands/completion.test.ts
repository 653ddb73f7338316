import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProgram } from "../program.ts";

const devenv = resolve(import.meta.dirname, "../../bin/devenv");
const root = mkdtempSync(join(tmpdir(), "devenv-cli-completion-"));
let bashScript: string;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(devenv, args, { encoding: "utf8", env: { PATH: process.env.PATH, HOME: root } }, (error, stdout, stderr) =>
      done({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** What bash offers after the words typed so far (the last one being completed). */
function complete(...words: string[]): string[] {
  const script = `source ${JSON.stringify(bashScript)}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}
_devenv_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.split("\n").filter((line) => line !== "");
}

beforeAll(async () => {
  const bash = await run(["completion", "bash"]);
  expect(bash.code, bash.stderr).toBe(0);
  bashScript = join(root, "devenv.bash");
  writeFileSync(bashScript, bash.stdout);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("devenv completion", () => {
  it("bash completes commands, subcommands and options from the command tree", () => {
    expect(complete("devenv", "snap")).toEqual(["snapshot", "snapshots"]);
    expect(complete("devenv", "snapshots", "")).toEqual(["ls", "show", "create", "delete", "pin", "unpin"]);
    expect(complete("devenv", "up", "--s")).toEqual(expect.arrayContaining(["--snapshot", "--shared"]));
    // global options go before the command
    expect(complete("devenv", "up", "--s")).not.toContain("--state-dir");
    expect(complete("devenv", "--s")).toEqual(["--state-dir"]);
    expect(complete("devenv", "up", "--s")).not.toContain("--source-keyspace");
    // an option's value is not taken for a command: `ls` here is a snapshot id, so jobs' subcommands follow
    expect(complete("devenv", "--state-dir", "ls", "jobs", "")).toEqual(["ls", "logs"]);
    expect(complete("devenv", "jobs", "logs", "--f")).toEqual(["--follow"]);
  });

  it("zsh gets a #compdef script with described commands; an unknown shell is a usage error", async () => {
    const zsh = await run(["completion", "zsh"]);
    expect(zsh.code, zsh.stderr).toBe(0);
    expect(zsh.stdout.startsWith("#compdef devenv\n")).toBe(true);
    expect(zsh.stdout).toContain("'up:start a database instance (personal by default), wait until it is ready, and point the forward at it'");
    expect(zsh.stdout).toContain("compdef _devenv devenv");
    const fish = await run(["completion", "fish"]);
    expect(fish.code).toBe(2);
    expect(fish.stderr).toContain("must be bash or zsh");
  });

  it("every control-plane command and subcommand has --help with examples", async () => {
    const program = await createProgram({ HOME: root }, ["node", "devenv"]);
    const ours = ["login", "logout", "up", "down", "status", "ls", "snapshots", "refresh", "jobs", "fleet", "completion", "use"];
    const walk = (command: Command): Command[] => [command, ...command.commands.flatMap(walk)];
    const commands = program.commands.filter((c) => ours.includes(c.name())).flatMap(walk);
    expect(commands.length).toBeGreaterThan(ours.length);
    for (const command of commands) {
      let help = "";
      command.configureOutput({ writeOut: (text) => (help += text) });
      command.outputHelp();
      expect(help, command.name()).toMatch(/Examples:\n {2}\$ .*devenv /);
    }
  });
});
