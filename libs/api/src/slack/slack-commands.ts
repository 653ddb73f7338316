import type { Clock } from "@devenv/core";
import type { Instance, Snapshot, Store, User } from "@devenv/store";
import { toApiError } from "../api-error.ts";
import type { InstanceManager } from "@devenv/fleet";
import { fleetOverview } from "../routers/fleet.ts";
import type { LivenessOf } from "../views.ts";
import { fleetPageView } from "../web/fleet-view.ts";

/** What Slack shows: ephemeral answers are seen by the caller only. */
export interface SlackMessage {
  response_type: "ephemeral" | "in_channel";
  text: string;
  replace_original?: boolean;
}

export interface SlashCommand {
  /** The Slack user who typed it. */
  slackUserId: string;
  /** What followed the command, e.g. "refresh". */
  text: string;
  /** Where later answers go (valid for 30 minutes, up to five posts). */
  responseUrl: string | undefined;
}

export interface SlackCommandsOptions {
  store: Store;
  instances: InstanceManager;
  clock: Clock;
  liveness: LivenessOf;
  /** Posts a later answer to a command's response URL. */
  post: (responseUrl: string, message: SlackMessage) => Promise<void>;
  /** Told why a Slack user could not be mapped to a devenv user. */
  linkHint: string;
  /** How often long work is checked on; default 2 s. */
  pollIntervalMs?: number;
  /** Slack accepts posts to a response URL for 30 minutes; the last word comes before that (default 25 min). */
  followUpLimitMs?: number;
  onError?: (what: string, error: unknown) => void;
}

const ended = new Set<Instance["state"]>(["terminated", "failed", "draining"]);
const usage = [
  "*/devenv* commands:",
  "• `/devenv status`: your instances, their restores, the newest snapshot",
  "• `/devenv up`: start your personal instance with the newest ready snapshot",
  "• `/devenv refresh`: load the newest ready snapshot onto your personal instance",
].join("\n");

/**
 * `/devenv status | up | refresh` for a Slack user mapped to a devenv user (users.slackUserId).
 * Quick answers come at once; long work (start, restore) is acknowledged at once and
 * finished later through the command's response URL.
 */
export class SlackCommands {
  readonly #o: Required<Omit<SlackCommandsOptions, "onError">> & Pick<SlackCommandsOptions, "onError">;
  readonly #followUps = new Set<Promise<void>>();
  readonly #stop = new AbortController();

  constructor(options: SlackCommandsOptions) {
    this.#o = { pollIntervalMs: 2_000, followUpLimitMs: 25 * 60_000, ...options };
  }

  async handle(command: SlashCommand): Promise<SlackMessage> {
    const user = await this.#o.store.users.findBySlackUserId(command.slackUserId);
    if (user === undefined) return ephemeral(`Your Slack account (${command.slackUserId}) is not linked to a devenv user. ${this.#o.linkHint}`);
    const [verb = "", ...rest] = command.text.trim().split(/\s+/).filter((word) => word !== "");
    try {
      switch (verb.toLowerCase()) {
        case "status":
          return await this.#status(user);
        case "up":
          return await this.#up(user, command.responseUrl);
        case "refresh":
          return await this.#refresh(user, command.responseUrl);
        case "":
        case "help":
          return ephemeral(usage);
        default:
          return ephemeral(`Unknown command \`${[verb, ...rest].join(" ")}\`.\n${usage}`);
      }
    } catch (error) {
      const apiError = toApiError(error);
      if (apiError.code === "internal") this.#o.onError?.(`slack ${verb}`, error);
      return ephemeral(`That did not work: ${apiError.message}`);
    }
  }

  /** Stops waiting on long work and lets the follow-ups in flight end. */
  async close(): Promise<void> {
    this.#stop.abort();
    await Promise.allSettled([...this.#followUps]);
  }

  /** Resolves when every follow-up started so far has posted (or given up). */
  async settled(): Promise<void> {
    while (this.#followUps.size > 0) await Promise.allSettled([...this.#followUps]);
  }

  async #status(user: User): Promise<SlackMessage> {
    const now = this.#o.clock.date();
    const view = await fleetPageView(this.#o.store, this.#o.liveness, now, { ownerId: user.id, jobs: false });
    const lines: string[] = [];
    const mine = view.instances.filter((row) => row.instance.state !== "terminated");
    if (mine.length === 0) lines.push("You have no instances. `/devenv up` starts one.");
    else lines.push(`Your instances (${mine.length}):`);
    for (const { instance, agent, restore } of mine) {
      const parts = [`• \`${instance.id}\` ${instance.kind}: *${instance.state}*`];
      parts.push(instance.currentSnapshotId ? `snapshot ${instance.currentSnapshotId}` : "no snapshot loaded");
      if (agent) parts.push(`agent ${agent.state} (${agent.liveness})`);
      if (instance.ttlExpiresAt) parts.push(`ends ${relative(instance.ttlExpiresAt, now)}`);
      lines.push(parts.join(", "));
      if (restore) {
        const progress = restore.progress;
        const done = progress && progress.totalBytes > 0 ? ` ${Math.floor((100 * progress.bytes) / progress.totalBytes)}% (${progress.phase})` : progress ? ` (${progress.phase})` : "";
        lines.push(`   restoring ${restore.snapshotId}: ${restore.state}${done}`);
      }
    }
    const newest = await newestReadySnapshot(this.#o.store);
    lines.push(newest ? `Newest ready snapshot: ${newest.id} (${sizeOf(newest.sizeBytes)}, made ${relative(newest.createdAt, now)})` : "No snapshot is ready yet.");
    if (user.role !== "developer") {
      const fleet = await fleetOverview(this.#o.store, this.#o.liveness, now);
      const states = Object.entries(fleet.instancesByState).map(([state, n]) => `${n} ${state}`).join(", ");
      lines.push(`Fleet: ${states || "no instances"}; agents ${Object.entries(fleet.agentsByLiveness).map(([l, n]) => `${n} ${l}`).join(", ") || "none"}`);
    }
    return ephemeral(lines.join("\n"));
  }

  async #up(user: User, responseUrl: string | undefined): Promise<SlackMessage> {
    const existing = await personalInstance(this.#o.store, user);
    if (existing !== undefined) {
      return ephemeral(`You already have instance \`${existing.id}\` (${existing.state}). \`/devenv refresh\` loads the newest snapshot onto it.`);
    }
    const snapshot = await newestReadySnapshot(this.#o.store);
    const { instance } = await this.#o.instances.up(user, { kind: "personal", snapshotId: snapshot?.id });
    const what = snapshot ? `with snapshot ${snapshot.id}` : "with an empty database (no snapshot is ready yet)";
    this.#followUp(responseUrl, async (signal) => {
      const final = await this.#waitFor(signal, async () => {
        const current = await this.#o.store.instances.get(instance.id);
        return current.state === "ready" || ended.has(current.state) ? current : undefined;
      });
      if (final === undefined) return ephemeral(`Instance \`${instance.id}\` is still starting; \`/devenv status\` shows how far it got.`);
      if (final.state === "ready") return ephemeral(`Instance \`${final.id}\` is ready${final.currentSnapshotId ? ` with snapshot ${final.currentSnapshotId}` : ""}. \`devenv use mine\` points localhost:9042 at it.`);
      return ephemeral(`Instance \`${final.id}\` did not start: ${final.state}${final.stateDetail ? ` (${final.stateDetail})` : ""}.`);
    });
    return ephemeral(`Working on it: starting instance \`${instance.id}\` ${what}. I will tell you here when it is ready.`);
  }

  async #refresh(user: User, responseUrl: string | undefined): Promise<SlackMessage> {
    const instance = await personalInstance(this.#o.store, user);
    if (instance === undefined) return ephemeral("You have no personal instance to refresh. `/devenv up` starts one.");
    const snapshot = await newestReadySnapshot(this.#o.store);
    if (snapshot === undefined) return ephemeral("No snapshot is ready yet, so there is nothing to refresh with.");
    const latest = await this.#o.store.assignments.latestForInstance(instance.id);
    const unfinished = latest !== undefined && (latest.state === "pending" || latest.state === "sent" || latest.state === "running");
    if (unfinished && latest.snapshotId === snapshot.id) return ephemeral(`Instance \`${instance.id}\` is already loading ${snapshot.id} (${latest.state}).`);
    if (!unfinished && instance.currentSnapshotId === snapshot.id) return ephemeral(`Instance \`${instance.id}\` already has the newest snapshot, ${snapshot.id}.`);

    const { assignment, delivered } = await this.#o.instances.assign(user, instance, snapshot.id);
    this.#followUp(responseUrl, async (signal) => {
      const final = await this.#waitFor(signal, async () => {
        const current = await this.#o.store.assignments.get(assignment.id);
        return current.state === "succeeded" || current.state === "failed" || current.state === "cancelled" ? current : undefined;
      });
      if (final === undefined) return ephemeral(`The restore of ${snapshot.id} onto \`${instance.id}\` is still running; \`/devenv status\` shows its progress.`);
      if (final.state === "succeeded") return ephemeral(`Instance \`${instance.id}\` now has snapshot ${snapshot.id}.`);
      return ephemeral(`The restore of ${snapshot.id} onto \`${instance.id}\` ${final.state}${final.error ? `: ${final.error}` : ""}. Your previous data is untouched unless the restore got past verification.`);
    });
    const where = delivered ? "its agent has the order" : "it starts once the instance's agent connects";
    return ephemeral(`Working on it: loading snapshot ${snapshot.id} onto \`${instance.id}\` (${where}). I will tell you here when it is done.`);
  }

  /** Runs `work` after the answer is sent and posts what it returns to the response URL. */
  #followUp(responseUrl: string | undefined, work: (signal: AbortSignal) => Promise<SlackMessage>): void {
    if (responseUrl === undefined) return;
    const run = (async () => {
      try {
        const message = await work(this.#stop.signal);
        await this.#o.post(responseUrl, message);
      } catch (error) {
        if (!this.#stop.signal.aborted) this.#o.onError?.("slack follow-up", error);
      }
    })();
    this.#followUps.add(run);
    void run.finally(() => this.#followUps.delete(run));
  }

  /** Polls `check` until it gives a value, the follow-up limit passes (undefined) or the server stops (throws). */
  async #waitFor<T>(signal: AbortSignal, check: () => Promise<T | undefined>): Promise<T | undefined> {
    const deadline = performance.now() + this.#o.followUpLimitMs;
    for (;;) {
      signal.throwIfAborted();
      const value = await check();
      if (value !== undefined) return value;
      if (performance.now() >= deadline) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.#o.pollIntervalMs);
        signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
  }
}

function ephemeral(text: string): SlackMessage {
  return { response_type: "ephemeral", text };
}

/** The caller's newest personal instance that is not ending. */
async function personalInstance(store: Store, user: User): Promise<Instance | undefined> {
  const mine = await store.instances.list({ ownerId: user.id, kind: "personal" });
  return mine.filter((i) => !ended.has(i.state)).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
}

async function newestReadySnapshot(store: Store): Promise<Snapshot | undefined> {
  // the catalogue lists newest first
  return (await store.snapshots.list({ status: ["ready"], limit: 1 }))[0];
}

function relative(iso: string, now: Date): string {
  const minutes = Math.round((Date.parse(iso) - now.getTime()) / 60_000);
  const size = Math.abs(minutes);
  const text = size < 60 ? `${size} min` : size < 48 * 60 ? `${Math.round(size / 60)} h` : `${Math.round(size / 1440)} d`;
  return minutes >= 0 ? `in ${text}` : `${text} ago`;
}

function sizeOf(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value >= 10 ? 0 : 1)} ${units[unit]}`;
}
