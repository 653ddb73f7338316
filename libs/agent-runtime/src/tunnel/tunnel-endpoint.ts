import { connect } from "node:net";
import type { Socket } from "node:net";
import type { AgentLogger } from "../logger.ts";
import { silentLogger } from "../logger.ts";

export interface TunnelEndpointOptions {
  /** The local Cassandra the tunnel reaches; nothing else can be dialled. */
  host: string;
  port: number;
  /** Sends bytes of a stream to the control plane; an empty payload says this end closed. */
  send: (streamId: number, data: Uint8Array) => boolean;
  /** Bytes waiting on the control-plane socket: above the bound, TCP reads pause. */
  buffered: () => number;
  maxBufferedBytes?: number;
  logger?: AgentLogger;
}

/**
 * The host end of CLI tunnels: each stream id is one TCP connection to the local
 * Cassandra, its bytes carried in binary WebSocket frames (4-byte stream id, then data).
 * A stream ends on `tunnel-close`, when Cassandra closes it (told to the control plane
 * as an empty frame), or when the control-plane session drops.
 */
export class TunnelEndpoint {
  readonly #options: TunnelEndpointOptions;
  readonly #logger: AgentLogger;
  readonly #streams = new Map<number, { socket: Socket; pending: Buffer[] }>();

  constructor(options: TunnelEndpointOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  get openStreams(): number {
    return this.#streams.size;
  }

  open(streamId: number): void {
    if (this.#streams.has(streamId)) return; // a redelivered tunnel-open
    const socket = connect({ host: this.#options.host, port: this.#options.port });
    // bytes that arrive from the control plane before the TCP connection is up wait here
    const stream = { socket, pending: [] as Buffer[] };
    this.#streams.set(streamId, stream);
    socket.setNoDelay(true);
    socket.on("connect", () => {
      for (const data of stream.pending.splice(0)) socket.write(data);
    });
    socket.on("data", (data: Buffer) => {
      this.#options.send(streamId, data);
      if (this.#options.buffered() > (this.#options.maxBufferedBytes ?? 4 * 1024 * 1024)) this.#pauseUntilDrained(streamId, socket);
    });
    socket.on("error", (error) => this.#logger.warn({ err: error, streamId }, "tunnel connection error"));
    socket.on("close", () => {
      if (this.#streams.get(streamId)?.socket !== socket) return;
      this.#streams.delete(streamId);
      this.#options.send(streamId, new Uint8Array(0));
    });
  }

  /** Bytes from the control plane for a stream; an empty payload closes it. */
  write(streamId: number, data: Buffer): void {
    const stream = this.#streams.get(streamId);
    if (!stream) {
      this.#logger.warn({ streamId, bytes: data.length }, "tunnel data for a stream that is not open dropped");
      return;
    }
    if (data.length === 0) {
      this.close(streamId);
      return;
    }
    if (stream.socket.connecting) stream.pending.push(Buffer.from(data));
    else stream.socket.write(data);
  }

  close(streamId: number): void {
    const stream = this.#streams.get(streamId);
    if (!stream) return;
    this.#streams.delete(streamId);
    stream.socket.end();
    stream.socket.destroySoon();
  }

  closeAll(): void {
    for (const streamId of [...this.#streams.keys()]) this.close(streamId);
  }

  #pauseUntilDrained(streamId: number, socket: Socket): void {
    socket.pause();
    const check = () => {
      if (this.#streams.get(streamId)?.socket !== socket) return;
      if (this.#options.buffered() > (this.#options.maxBufferedBytes ?? 4 * 1024 * 1024) / 2) setTimeout(check, 10);
      else socket.resume();
    };
    setTimeout(check, 10);
  }
}
