// The fleet page: signs in with an API token (kept in this tab's session storage), then
// reads a Server-Sent Events stream of fleet views with fetch, so the token travels in the
// Authorization header and never in a URL. Every value is written as text, never as HTML.
"use strict";

const tokenKey = "devenv.fleet.token";
const $ = (id) => document.getElementById(id);

let stream = null;
let latest = null;

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function bytes(n) {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** An age measured against the server's clock, so a skewed browser clock does not matter. */
function age(iso, nowIso) {
  if (!iso) return "–";
  const seconds = Math.round((Date.parse(nowIso) - Date.parse(iso)) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text = s < 60 ? `${s} s` : s < 3600 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

function stateBadge(state, testid) {
  return el("span", { class: `state state-${state}`, "data-testid": testid }, state);
}

function shortId(id) {
  return id.length > 12 ? id.slice(0, 8) : id;
}

function setConnection(state, text) {
  const node = $("connection");
  node.dataset.state = state;
  node.textContent = text;
}

// ---- sign-in ----------------------------------------------------------------------

async function signIn(token) {
  const response = await fetch("/fleet/session", { method: "POST", headers: { authorization: `Bearer ${token}` } });
  if (response.status === 401) throw new Error("That token is unknown, revoked or expired.");
  if (!response.ok) throw new Error(`The server answered ${response.status}.`);
  const session = await response.json();
  sessionStorage.setItem(tokenKey, token);
  $("viewer").textContent = `${session.user.name} (${session.user.role})`;
  $("sign-in").hidden = true;
  $("fleet").hidden = false;
  $("sign-out").hidden = false;
  $("jobs-section").hidden = !session.jobs;
  startStream(token);
}

function signOut(message) {
  sessionStorage.removeItem(tokenKey);
  stream?.abort();
  stream = null;
  latest = null;
  $("viewer").textContent = "";
  $("fleet").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message ?? "";
  setConnection("offline", "signed out");
}

// ---- the event stream ---------------------------------------------------------------

function startStream(token) {
  stream?.abort();
  const controller = new AbortController();
  stream = controller;
  void (async () => {
    let delay = 1000;
    while (!controller.signal.aborted) {
      try {
        setConnection("reconnecting", latest ? "reconnecting…" : "connecting…");
        const response = await fetch("/fleet/events", { headers: { authorization: `Bearer ${token}` }, signal: controller.signal });
        if (response.status === 401) return signOut("The token is no longer valid; sign in again.");
        if (!response.ok || !response.body) throw new Error(`events: ${response.status}`);
        setConnection("live", "live");
        delay = 1000;
        await readEvents(response.body, controller.signal);
      } catch (error) {
        if (controller.signal.aborted) return;
        console.warn("fleet stream", error);
      }
      if (controller.signal.aborted) return;
      setConnection("reconnecting", "reconnecting…");
      // back off with jitter so a restarted server is not met by every page at once
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())));
      delay = Math.min(delay * 2, 15000);
    }
  })();
}

async function readEvents(body, signal) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  while (!signal.aborted) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length === 0) continue;
      if (event === "overview") {
        latest = JSON.parse(data.join("\n"));
        render();
      } else if (event === "signed-out") {
        signOut(JSON.parse(data.join("\n")).reason);
        return;
      }
    }
  }
}

// ---- rendering ----------------------------------------------------------------------

function render() {
  const view = latest;
  if (!view) return;
  renderSummary(view);
  renderOwnerOptions(view);
  renderInstances(view);
  if (view.jobs) renderJobs(view);
  renderSnapshots(view);
  $("updated").textContent = `as of ${view.at} (server time)`;
}

function renderSummary(view) {
  const chips = [];
  for (const [state, n] of Object.entries(view.summary.instancesByState)) chips.push(`instances ${state}: ${n}`);
  for (const [liveness, n] of Object.entries(view.summary.agentsByLiveness)) chips.push(`agents ${liveness}: ${n}`);
  for (const [version, n] of Object.entries(view.summary.agentVersions)) chips.push(`agent v${version}: ${n}`);
  chips.push(`restoring at ${bytes(view.summary.restoreBytesPerSecond)}/s`);
  $("summary").replaceChildren(...chips.map((text) => el("span", { class: "chip" }, text)));
}

function renderOwnerOptions(view) {
  const select = $("filter-owner");
  const chosen = select.value;
  const options = [el("option", { value: "" }, "everyone"), ...view.owners.map((owner) => el("option", { value: owner.id }, owner.name))];
  select.replaceChildren(...options);
  select.value = view.owners.some((owner) => owner.id === chosen) ? chosen : "";

  const states = $("filter-state");
  const chosenState = states.value;
  const known = new Set(view.instances.map((row) => row.instance.state));
  const stateOptions = [el("option", { value: "" }, "all")];
  // terminated instances are not part of the fleet (fleet.overview leaves them out)
  for (const state of ["requested", "provisioning", "registering", "restoring", "ready", "refreshing", "draining", "failed"]) {
    stateOptions.push(el("option", { value: state }, known.has(state) ? state : `${state} (none)`));
  }
  states.replaceChildren(...stateOptions);
  states.value = chosenState;
}

function visibleRows(view) {
  const owner = $("filter-owner").value;
  const state = $("filter-state").value;
  return view.instances.filter(({ instance }) => {
    if (owner && instance.ownerId !== owner) return false;
    return !state || instance.state === state;
  });
}

function healthCell(agent) {
  if (!agent) return el("td", {}, "no agent yet");
  const health = agent.health;
  const parts = [stateBadge(agent.liveness, "agent-liveness")];
  if (health) {
    const disk = health.diskTotalBytes > 0 ? `disk ${Math.round((100 * health.diskFreeBytes) / health.diskTotalBytes)}% free` : null;
    parts.push(el("span", { class: "sub" }, `cassandra ${health.cassandra.reachable ? "up" : "down"}${disk ? `, ${disk}` : ""}, load ${health.load1}`));
  }
  if (agent.lastHeartbeatAt) parts.push(el("span", { class: "sub" }, `heartbeat ${age(agent.lastHeartbeatAt, latest.at)}`));
  return el("td", {}, ...parts);
}

function restoreCell(restore) {
  if (!restore) return el("td", { "data-testid": "restore" }, "–");
  const progress = restore.progress;
  if (!progress) return el("td", { "data-testid": "restore" }, stateBadge(restore.state, "restore-state"), el("span", { class: "sub" }, `snapshot ${restore.snapshotId}`));
  const total = progress.totalBytes || progress.totalRows;
  const done = progress.totalBytes ? progress.bytes : progress.rows;
  const percent = total ? Math.floor((100 * done) / total) : 0;
  return el(
    "td",
    { "data-testid": "restore" },
    stateBadge(restore.state, "restore-state"),
    " ",
    el("progress", { max: 100, value: percent }),
    el("span", { "data-testid": "restore-progress" }, ` ${percent}% ${progress.phase}`),
    el("span", { class: "sub" }, `${bytes(progress.bytes)} of ${bytes(progress.totalBytes)}, ${progress.rows} of ${progress.totalRows} rows${progress.rate ? `, ${bytes(progress.rate)}/s` : ""}${progress.etaSeconds ? `, ${Math.round(progress.etaSeconds)} s left` : ""}`),
  );
}

function renderInstances(view) {
  const rows = visibleRows(view);
  $("instance-count").textContent = `${rows.length} of ${view.instances.length}`;
  $("instances-body").replaceChildren(
    ...rows.map(({ instance, agent, restore, ownerName }) =>
      el(
        "tr",
        { "data-testid": "instance-row", "data-instance-id": instance.id, "data-owner": ownerName },
        el("td", { class: "mono", title: instance.id }, shortId(instance.id), instance.hostAddress ? el("span", { class: "sub" }, `${instance.hostAddress}:${instance.hostPort ?? ""}`) : null),
        el("td", {}, ownerName),
        el("td", {}, instance.kind),
        el("td", {}, stateBadge(instance.state, "instance-state"), instance.stateDetail ? el("span", { class: "sub" }, instance.stateDetail) : null),
        el("td", {}, agent ? stateBadge(agent.state, "agent-state") : "–", agent ? el("span", { class: "sub" }, `${agent.hostname ?? "?"} v${agent.version}`) : null),
        healthCell(agent),
        el("td", { class: "mono" }, instance.currentSnapshotId ?? "–", instance.snapshotId && instance.snapshotId !== instance.currentSnapshotId ? el("span", { class: "sub" }, `wanted ${instance.snapshotId}`) : null),
        restoreCell(restore),
        el("td", {}, instance.ttlExpiresAt ? age(instance.ttlExpiresAt, view.at) : "–"),
      ),
    ),
  );
}

function renderJobs(view) {
  $("jobs-body").replaceChildren(
    ...view.jobs.map((job) =>
      el(
        "tr",
        { "data-testid": "job-row", "data-job-id": job.id },
        el("td", { class: "mono", title: job.id }, shortId(job.id)),
        el("td", {}, job.kind),
        el("td", {}, stateBadge(job.state, "job-state")),
        el("td", {}, `${job.attempts}/${job.maxAttempts}`),
        el("td", {}, age(job.createdAt, view.at)),
        el("td", {}, job.finishedAt ? age(job.finishedAt, view.at) : "–"),
        el("td", {}, job.error ?? job.lastLog ?? ""),
      ),
    ),
  );
}

function renderSnapshots(view) {
  $("snapshots-body").replaceChildren(
    ...view.snapshots.map((snapshot) =>
      el(
        "tr",
        { "data-testid": "snapshot-row", "data-snapshot-id": snapshot.id },
        el("td", { class: "mono" }, snapshot.id),
        el("td", {}, stateBadge(snapshot.status, "snapshot-status")),
        el("td", { "data-testid": "snapshot-size" }, bytes(snapshot.sizeBytes)),
        el("td", {}, snapshot.rows.toLocaleString("en")),
        el("td", {}, snapshot.tablesCount),
        el("td", { "data-testid": "snapshot-age" }, age(snapshot.createdAt, view.at)),
        el("td", {}, snapshot.pinned ? "pinned" : ""),
        el("td", {}, snapshot.sourceDescription),
      ),
    ),
  );
}

// ---- start --------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("token").value.trim();
    $("sign-in-error").textContent = "";
    signIn(token).then(
      () => ($("token").value = ""),
      (error) => ($("sign-in-error").textContent = error.message),
    );
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("filter-owner").addEventListener("change", render);
  $("filter-state").addEventListener("change", render);
  const saved = sessionStorage.getItem(tokenKey);
  if (saved) signIn(saved).catch((error) => signOut(error.message));
});
