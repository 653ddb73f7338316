/**
 * Runs the control plane until SIGTERM or SIGINT, then shuts it down gracefully (a second
 * signal exits at once). Resolves after the shutdown.
 */
export async function serveUntilSignalled(start: () => Promise<{ url: string; close(): Promise<void> }>, signals: NodeJS.EventEmitter = process): Promise<void> {
  const plane = await start();
  await new Promise<void>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string) => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stderr.write(`${signal}: shutting down\n`);
      resolve();
    };
    signals.on("SIGTERM", onSignal);
    signals.on("SIGINT", onSignal);
  });
  await plane.close();
}
