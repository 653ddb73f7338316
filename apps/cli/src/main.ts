import { exitCodeFor, toCliError } from "./errors.ts";
import { createProgram, usageErrorFrom } from "./program.ts";

const program = await createProgram(process.env, process.argv);
try {
  await program.parseAsync(process.argv);
} catch (error) {
  const usage = usageErrorFrom(error);
  if (usage === "exit-ok") process.exit(0);
  const failure = usage ?? toCliError(error);
  process.stderr.write(`devenv: ${failure.message}\n`);
  if (process.env.DEVENV_DEBUG && failure.cause instanceof Error) console.error(failure.cause);
  process.exitCode = exitCodeFor(failure.code);
}
