import type { ChildProcess } from "node:child_process";

/** Child-process chores shared by the services the harness starts. */

export function keepTail(child: ChildProcess, maxLines: number): () => string {
  const lines: string[] = [];
  let partial = "";
  const onData = (chunk: Buffer) => {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts);
    if (lines.length > maxLines) lines.splice(0, lines.length - maxLines);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  // e.g. EACCES from spawn: without a listener it would crash the test process
  child.on("error", (error) => lines.push(`spawn failed: ${error.message}`));
  return () => [...lines, partial].filter((line) => line !== "").join("\n");
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function exitDescription(child: ChildProcess): string {
  return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, deadlineMs: number): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), deadlineMs);
  await gone;
  clearTimeout(timer);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
