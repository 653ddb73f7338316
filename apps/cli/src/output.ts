/** Where a command writes: human text by default, JSON on request, progress on stderr. */
export interface Output {
  readonly json: boolean;
  /** One human line on stdout (suppressed in --json mode). */
  line(text: string): void;
  /** The machine-readable result on stdout, in --json mode only. */
  result(value: unknown): void;
  /** Progress for long work: rewrites one line on a terminal, plain lines otherwise. */
  progress(text: string): void;
  /** Ends a progress line so the next output starts on a fresh line. */
  progressDone(): void;
}

export function createOutput(opts: {
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}): Output {
  const stdout = opts.stdout ?? process.stdout;
  const stderr = opts.stderr ?? process.stderr;
  const live = stderr.isTTY === true;
  let open = false;
  return {
    json: opts.json,
    line(text) {
      if (!opts.json) stdout.write(`${text}\n`);
    },
    result(value) {
      if (opts.json) stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    progress(text) {
      if (live) {
        stderr.write(`\r\x1b[2K${text}`);
        open = true;
      } else {
        stderr.write(`${text}\n`);
      }
    },
    progressDone() {
      if (open) stderr.write("\n");
      open = false;
    },
  };
}
