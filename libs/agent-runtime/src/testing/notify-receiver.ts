import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";

export interface NotifyReceiver {
  /** The NOTIFY_SOCKET path to give the service. */
  socketPath: string;
  /** Each datagram received, in order. */
  messages: string[];
  close(): Promise<void>;
}

/**
 * What systemd does for Type=notify, in miniature: a unix datagram socket that records
 * every notification. Node has no unix datagram sockets, so a small python3 process
 * binds it and prints each datagram as one JSON line.
 */
export async function startNotifyReceiver(dir: string): Promise<NotifyReceiver> {
  const socketPath = join(dir, "notify.sock");
  const script = [
    "import json, socket, sys",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
    "s.bind(sys.argv[1])",
    "print('bound', flush=True)",
    "while True:",
    "    data = s.recv(65536)",
    "    print(json.dumps(data.decode('utf-8', 'replace')), flush=True)",
  ].join("\n");
  const child: ChildProcess = spawn("python3", ["-c", script, socketPath], { stdio: ["ignore", "pipe", "inherit"] });
  const messages: string[] = [];
  let partial = "";
  const bound = Promise.withResolvers<void>();
  child.on("error", (error) => bound.reject(error));
  child.on("exit", (code) => bound.reject(new Error(`notify receiver exited with ${code}`)));
  child.stdout!.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (line === "bound") bound.resolve();
      else if (line !== "") messages.push(JSON.parse(line) as string);
    }
  });
  await bound.promise;
  return {
    socketPath,
    messages,
    close: async () => {
      if (child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await gone;
    },
  };
}
