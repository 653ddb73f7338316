import type { IncomingMessage, ServerResponse } from "node:http";
import type { ExtraRoutes, RoutesContext } from "../routes-context.ts";
import { bearerOf } from "../trpc.ts";
import { SlackCommands, type SlackMessage } from "./slack-commands.ts";
import { SlackRequestVerifier } from "./slack-signature.ts";

export interface SlackSettings {
  /** The Slack app's signing secret (DEVENV_SLACK_SIGNING_SECRET). */
  signingSecret: string;
  /** Which response URLs later answers may be posted to; default Slack's own (https://hooks.slack.com/…). */
  responseUrlAllowed?: (url: URL) => boolean;
  /** How often long work is checked on; default 2 s. */
  pollIntervalMs?: number;
  followUpLimitMs?: number;
}

/** Slack settings from the environment: undefined (commands off) without DEVENV_SLACK_SIGNING_SECRET. */
export function slackSettingsFromEnv(env: NodeJS.ProcessEnv): SlackSettings | undefined {
  const signingSecret = env.DEVENV_SLACK_SIGNING_SECRET?.trim();
  return signingSecret ? { signingSecret } : undefined;
}

const maxBodyBytes = 64 * 1024;
const slackUserIdPattern = /^[UW][A-Z0-9]{2,30}$/;

export const slackLinkHint =
  "An admin links it: `curl -X PUT -H 'authorization: Bearer <admin token>' -d '{\"user\":\"<devenv user name>\"}' <control plane>/slack/links/<your Slack user id>`, or gives your Slack id when creating your user (auth.users.create slackUserId).";

/**
 * `POST /slack/commands`: Slack's slash commands, signed requests only (v0 HMAC, 5-minute
 * window, no replays), else 401. `PUT` / `DELETE /slack/links/<slack user id>`: an admin
 * links a Slack user to a devenv user (body `{"user": "<name or id>"}`) or unlinks it.
 */
export function slackRoutes(context: RoutesContext, settings: SlackSettings | undefined): ExtraRoutes {
  const verifier = settings ? new SlackRequestVerifier({ signingSecret: settings.signingSecret }) : undefined;
  const allowed = settings?.responseUrlAllowed ?? ((url: URL) => url.protocol === "https:" && url.hostname === "hooks.slack.com");
  const commands = new SlackCommands({
    store: context.store,
    instances: context.instances,
    clock: context.clock,
    liveness: context.liveness,
    linkHint: slackLinkHint,
    pollIntervalMs: settings?.pollIntervalMs,
    followUpLimitMs: settings?.followUpLimitMs,
    post: (url, message) => postToResponseUrl(url, message),
    onError: (what, error) => context.logger.error({ err: error }, `${what} failed`),
  });

  async function handle(request: IncomingMessage, response: ServerResponse, path: string): Promise<boolean> {
    if (path === "/slack/commands") {
      if (request.method !== "POST") return sendJson(response, 405, { error: "method not allowed; Slack POSTs commands" }, { allow: "POST" });
      if (verifier === undefined) return sendJson(response, 503, { error: "Slack commands are off: set DEVENV_SLACK_SIGNING_SECRET to the Slack app's signing secret" });
      const body = await readBody(request);
      if (body === undefined) return sendJson(response, 413, { error: `body larger than ${maxBodyBytes} bytes` });
      const verdict = verifier.verify({
        timestamp: header(request, "x-slack-request-timestamp"),
        signature: header(request, "x-slack-signature"),
        body,
        nowMs: context.clock.now(),
      });
      if (!verdict.ok) {
        context.logger.warn({ reason: verdict.reason }, "slack: request refused");
        return sendJson(response, 401, { error: verdict.reason });
      }
      const form = new URLSearchParams(body);
      const slackUserId = form.get("user_id");
      if (!slackUserId) return sendJson(response, 400, { error: "user_id is missing" });
      const responseUrl = acceptedResponseUrl(form.get("response_url"));
      const answer = await commands.handle({ slackUserId, text: form.get("text") ?? "", responseUrl });
      return sendJson(response, 200, answer);
    }
    if (path.startsWith("/slack/links/")) {
      await link(request, response, decodeURIComponent(path.slice("/slack/links/".length)));
      return true;
    }
    return false;
  }

  function acceptedResponseUrl(raw: string | null): string | undefined {
    if (!raw) return undefined;
    try {
      if (allowed(new URL(raw))) return raw;
    } catch {
      // not a URL: treated like a refused one
    }
    context.logger.warn({ host: safeHost(raw) }, "slack: response_url refused; later answers for this command are dropped");
    return undefined;
  }

  async function postToResponseUrl(url: string, message: SlackMessage): Promise<void> {
    const answer = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...message, replace_original: message.replace_original ?? false }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!answer.ok) throw new Error(`posting to the response URL answered ${answer.status}`);
  }

  async function link(request: IncomingMessage, response: ServerResponse, slackUserId: string): Promise<void> {
    if (request.method !== "PUT" && request.method !== "DELETE") return void sendJson(response, 405, { error: "use PUT to link or DELETE to unlink" }, { allow: "PUT, DELETE" });
    const token = bearerOf(request.headers.authorization);
    const admin = token === undefined ? null : await context.store.tokens.authenticate(token);
    if (admin === null) return void sendJson(response, 401, { error: "an admin's API token is required (Authorization: Bearer …)" });
    if (admin.role !== "admin") return void sendJson(response, 403, { error: `linking Slack users needs the admin role; you are ${admin.role}` });
    if (!slackUserIdPattern.test(slackUserId)) return void sendJson(response, 400, { error: `${slackUserId} is not a Slack user id (like U024BE7LH)` });
    if (request.method === "DELETE") {
      const linked = await context.store.users.findBySlackUserId(slackUserId);
      if (linked === undefined) return void sendJson(response, 404, { error: `no devenv user is linked to ${slackUserId}` });
      const user = await context.store.users.update(linked.id, { slackUserId: null });
      await context.store.audit.record({ actor: admin.id, action: "user.slack-unlink", subject: `user:${user.id}`, detail: { slackUserId } });
      return void sendJson(response, 200, { user });
    }
    const raw = await readBody(request);
    let wanted: unknown;
    try {
      wanted = raw ? (JSON.parse(raw) as { user?: unknown }).user : undefined;
    } catch {
      wanted = undefined;
    }
    if (typeof wanted !== "string" || wanted === "") return void sendJson(response, 400, { error: 'expected a JSON body {"user": "<devenv user name or id>"}' });
    const user = (await context.store.users.findByName(wanted)) ?? (await context.store.users.find(wanted));
    if (user === undefined) return void sendJson(response, 404, { error: `no devenv user ${wanted}; see auth.users.list` });
    const holder = await context.store.users.findBySlackUserId(slackUserId);
    if (holder !== undefined && holder.id !== user.id) return void sendJson(response, 409, { error: `${slackUserId} is linked to ${holder.name} already; unlink it first (DELETE)` });
    const updated = await context.store.users.update(user.id, { slackUserId });
    await context.store.audit.record({ actor: admin.id, action: "user.slack-link", subject: `user:${user.id}`, detail: { slackUserId } });
    sendJson(response, 200, { user: updated });
  }

  return { handle, close: () => commands.close() };
}

/** The raw body as text, or undefined past the limit. */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function safeHost(raw: string): string {
  try {
    return new URL(raw).host;
  } catch {
    return "(not a URL)";
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  response.writeHead(status, { "content-type": "application/json", ...headers });
  response.end(JSON.stringify(body));
  return true;
}
