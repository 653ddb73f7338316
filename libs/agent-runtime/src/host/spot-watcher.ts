import { z } from "zod";
import type { InstanceMetadata } from "../identity/instance-metadata.ts";
import type { AgentLogger } from "../logger.ts";
import { silentLogger } from "../logger.ts";

/** The body of `spot/instance-action` once AWS has scheduled the interruption. */
const InstanceAction = z.object({ action: z.string().min(1), time: z.string().min(1) });

export interface SpotNotice {
  action: string;
  /** ISO timestamp: when the instance goes away. */
  deadline: string;
}

/**
 * Polls the spot interruption notice (404 until AWS schedules one, about two minutes
 * ahead) and reports the first notice once.
 */
export class SpotWatcher {
  readonly #metadata: InstanceMetadata;
  readonly #intervalMs: number;
  readonly #onNotice: (notice: SpotNotice) => void;
  readonly #logger: AgentLogger;
  #timer: NodeJS.Timeout | undefined;
  #noticed = false;
  #stopped = false;

  constructor(options: { metadata: InstanceMetadata; intervalMs?: number; onNotice: (notice: SpotNotice) => void; logger?: AgentLogger }) {
    this.#metadata = options.metadata;
    this.#intervalMs = options.intervalMs ?? 5_000;
    this.#onNotice = options.onNotice;
    this.#logger = options.logger ?? silentLogger;
  }

  start(): void {
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** One poll; returns the notice when there is one. */
  async poll(): Promise<SpotNotice | undefined> {
    const body = await this.#metadata.get("/latest/meta-data/spot/instance-action");
    if (body === undefined) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new Error(`the spot instance-action notice is not JSON: ${body.slice(0, 200)}`);
    }
    const parsed = InstanceAction.safeParse(json);
    if (!parsed.success) throw new Error(`the spot instance-action notice lacks action or time: ${body.slice(0, 200)}`);
    const deadline = new Date(parsed.data.time);
    if (Number.isNaN(deadline.getTime())) throw new Error(`the spot instance-action time is not a timestamp: ${parsed.data.time}`);
    return { action: parsed.data.action, deadline: deadline.toISOString() };
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#noticed) return;
    this.#timer = setTimeout(() => {
      this.poll()
        .then((notice) => {
          if (!notice || this.#stopped) return;
          this.#noticed = true;
          this.#onNotice(notice);
        })
        .catch((error: unknown) => this.#logger.warn({ err: error }, "spot notice poll failed"))
        .finally(() => this.#schedule(this.#intervalMs));
    }, delayMs);
    this.#timer.unref();
  }
}
