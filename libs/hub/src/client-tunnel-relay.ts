import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import type { AgentHub } from "./agent-hub.ts";

export type TunnelAuthorization = { ok: true; agentId: string } | { ok: false; status: 401 | 403 | 404 | 409 | 503; message: string };

export interface ClientTunnelRelayOptions {
  server: Server;
  hub: AgentHub;
  /** Default `/tunnel`: clients open `/tunnel/<instance id>`. */
  path?: string;
  /** Who may reach which instance's database, and through which agent. */
  authorize(request: IncomingMessage, instanceId: string): Promise<TunnelAuthorization>;
  /** How long the agent has to open its end (default 10 s). */
  openTimeoutMs?: number;
  /** Client bytes held while the agent opens its end (default 1 MiB); more closes the tunnel. */
  maxPendingBytes?: number;
}

const emptyFrame = new Uint8Array(0);

/**
 * The control plane's middle of a database tunnel: a client (the CLI's forward) opens a
 * WebSocket per TCP connection; the relay asks the instance's agent to open a stream to
 * its local Cassandra and passes bytes both ways as binary frames. An empty frame from
 * either side ends the stream. No database port is opened on the host.
 */
export class ClientTunnelRelay {
  readonly #options: ClientTunnelRelayOptions;
  readonly #path: string;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  readonly #streams = new Map<string, WebSocket>();
  readonly #onUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly #onTunnelData: (event: { agentId: string; streamId: number; data: Uint8Array }) => void;
  // a tunnel cannot outlive its agent's session: the database end is gone with it
  readonly #onAgentGone = ({ agentId }: { agentId: string }): void => {
    for (const [key, client] of this.#streams) {
      if (key.startsWith(`${agentId}:`)) client.close(1001, "the instance's agent disconnected");
    }
  };
  #nextStreamId = 1;

  constructor(options: ClientTunnelRelayOptions) {
    this.#options = options;
    this.#path = options.path ?? "/tunnel";
    this.#onUpgrade = (request, socket, head) => void this.#upgrade(request, socket, head);
    this.#onTunnelData = ({ agentId, streamId, data }) => {
      const client = this.#streams.get(`${agentId}:${streamId}`);
      if (!client) return;
      if (data.length === 0) client.close(1000, "the database closed the connection");
      else client.send(data, { binary: true });
    };
  }

  /** Open tunnels now. */
  get size(): number {
    return this.#streams.size;
  }

  start(): void {
    this.#options.server.on("upgrade", this.#onUpgrade);
    this.#options.hub.on("tunnel-data", this.#onTunnelData);
    this.#options.hub.on("agent-disconnected", this.#onAgentGone);
  }

  close(): void {
    this.#options.server.off("upgrade", this.#onUpgrade);
    this.#options.hub.off("tunnel-data", this.#onTunnelData);
    this.#options.hub.off("agent-disconnected", this.#onAgentGone);
    for (const client of this.#streams.values()) client.close(1001, "control plane shutting down");
  }

  async #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const pathname = new URL(request.url ?? "/", "http://relay.invalid").pathname;
    if (!pathname.startsWith(`${this.#path}/`)) return; // another listener's upgrade
    const instanceId = decodeURIComponent(pathname.slice(this.#path.length + 1));
    let verdict: TunnelAuthorization;
    try {
      verdict = await this.#options.authorize(request, instanceId);
    } catch {
      verdict = { ok: false, status: 503, message: "cannot check the tunnel's authorization now" };
    }
    if (!verdict.ok) {
      refuse(socket, verdict.status, verdict.message);
      return;
    }
    const { agentId } = verdict;
    this.#wss.handleUpgrade(request, socket, head, (client) => void this.#relay(client, agentId));
  }

  async #relay(client: WebSocket, agentId: string): Promise<void> {
    const { hub } = this.#options;
    const streamId = this.#nextStreamId;
    this.#nextStreamId = (this.#nextStreamId % 0xffff_fffe) + 1;
    const key = `${agentId}:${streamId}`;
    this.#streams.set(key, client);
    let open = false;
    let ended = false;
    let pendingBytes = 0;
    const pending: Uint8Array[] = [];
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      this.#streams.delete(key);
      if (open) hub.sendTunnelData(agentId, streamId, emptyFrame);
      hub.sendCommand(agentId, { type: "tunnel-close", streamId }).catch(() => {});
      if (client.readyState === WebSocket.OPEN) client.close(1000, why);
    };
    client.on("message", (data, isBinary) => {
      if (!isBinary) return end("tunnels carry binary frames only");
      const bytes = Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]);
      if (!open) {
        pendingBytes += bytes.length;
        if (pendingBytes > (this.#options.maxPendingBytes ?? 1024 * 1024)) return end("too much data before the database end opened");
        pending.push(bytes);
        return;
      }
      if (!hub.sendTunnelData(agentId, streamId, bytes)) end("the instance's agent is not connected");
    });
    client.on("close", () => end("client closed"));
    client.on("error", () => end("client error"));
    try {
      const command = await hub.sendCommand(agentId, { type: "tunnel-open", streamId });
      await waitForAck(hub, agentId, command.commandId, this.#options.openTimeoutMs ?? 10_000);
    } catch (error) {
      return end(`the agent did not open the tunnel: ${(error as Error).message}`.slice(0, 120));
    }
    if (ended) return;
    open = true;
    for (const bytes of pending.splice(0)) {
      if (!hub.sendTunnelData(agentId, streamId, bytes)) return end("the instance's agent is not connected");
    }
  }
}

function waitForAck(hub: AgentHub, agentId: string, commandId: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAck = (event: { agentId: string; commandId: string }) => {
      if (event.agentId !== agentId || event.commandId !== commandId) return;
      clearTimeout(timer);
      hub.off("command-acked", onAck);
      resolve();
    };
    const timer = setTimeout(() => {
      hub.off("command-acked", onAck);
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    hub.on("command-acked", onAck);
  });
}

function refuse(socket: Duplex, status: number, message: string): void {
  const reason = { 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 503: "Service Unavailable" }[status] ?? "Error";
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
