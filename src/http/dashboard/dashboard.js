// The Troupe dashboard: plain browser JavaScript modules, no build step. It reads the control API
// relative to the page (<base> points at the API's mount point), follows /events for live figures, and
// sends the operator's token with every request.
import {
  addDetection,
  alertsLoaded,
  catchUp,
  closeEvidence,
  loadAlerts,
  setChoices,
  setFilter,
  showEvidence,
} from "./detections.js";
import { $, api, el, emptyRow, fmt, headers, num, say } from "./dom.js";
import { addAlert, chart, pill, renderActors, renderHeader, renderStreams, seriesStyle } from "./views.js";

const RECONNECT_MS = 2000;

const throughputChart = chart($("chart-throughput"), [["msg/s", "#2f5fd0"]]);
const lagChart = chart($("chart-lag"), [
  ["lag", "#b54708"],
  ["pending", "#12805c"],
]);
const lagSecondsChart = chart($("chart-lag-seconds"), [["lag (s)", "#c01048"]]);

// ---- history: the charts start from the server's recent samples, then move with the live feed ----

const charts = { detectors: [], alerts: null, loaded: false };

/** The alerts chart draws one series per detector the API names (or one for all, when it names none). */
function alertValues(byDetector) {
  if (!byDetector) return [];
  if (charts.detectors.length === 0) return [Object.values(byDetector).reduce((a, b) => a + b, 0)];
  return charts.detectors.map((d) => byDetector[d] ?? 0);
}

async function loadHistory() {
  try {
    const history = await api("history");
    charts.detectors = history.detectors;
    setChoices(history.detectors, history.severities);
    const labels = history.detectors.length ? history.detectors : ["alerts"];
    // A chart drawn while the history was unavailable (no token yet) is replaced.
    $("chart-alerts").replaceChildren();
    charts.alerts = chart(
      $("chart-alerts"),
      labels.map((label, i) => [label, seriesStyle(i)]),
    );
    const points = history.points;
    throughputChart.fill(points.map((p) => [p.at, [p.throughput]]));
    lagChart.fill(points.map((p) => [p.at, [p.lag, p.pending]]));
    lagSecondsChart.fill(points.map((p) => [p.at, [p.lagSeconds]]));
    charts.alerts.fill(points.map((p) => [p.at, alertValues(p.detections)]));
    $("chart-alerts").dataset.history = String(points.length);
    charts.loaded = true;
  } catch (error) {
    charts.alerts ??= chart($("chart-alerts"), [["alerts", seriesStyle(0)]]);
    say(`history unavailable: ${error.message}`, true);
  }
}

// ---- dead letters ----

const deadLetters = { total: -1, next: null };

async function loadDeadLetters(more = false) {
  try {
    const cursor = more && deadLetters.next ? `&cursor=${encodeURIComponent(deadLetters.next)}` : "";
    const page = await api(`dead-letters?count=50${cursor}`);
    const rows = page.entries.map((d) =>
      el(
        "tr",
        { "data-id": d.id },
        el("td", {}, d.id),
        el("td", {}, `${d.source} / ${d.group}`),
        el("td", {}, d.reason),
        el("td", { class: "n" }, num(d.deliveries)),
        el("td", { class: "error" }, d.error ?? ""),
        el("td", { class: "preview" }, d.preview ?? "(entry gone)"),
        el("td", {}, new Date(d.at).toLocaleString()),
        el(
          "td",
          {},
          d.replayable
            ? el("button", { type: "button", "data-action": "replay", "data-id": d.id }, "Replay")
            : null,
          el("button", { type: "button", "data-action": "delete", "data-id": d.id }, "Delete"),
        ),
      ),
    );
    const body = $("dead-letters").tBodies[0];
    if (more) body.append(...rows);
    else body.replaceChildren(...(rows.length ? rows : [emptyRow(8, "no dead letters")]));
    deadLetters.next = page.next;
    $("dl-more").hidden = page.next === null;
  } catch (error) {
    $("dead-letters").tBodies[0].replaceChildren(emptyRow(8, `dead letters unavailable: ${error.message}`));
  }
}

async function showPending(stream, group) {
  const box = $("pending");
  box.replaceChildren(el("p", {}, `pending entries of ${stream} / ${group}: loading`));
  try {
    const page = await api(
      `streams/${encodeURIComponent(stream)}/groups/${encodeURIComponent(group)}/pending?count=100`,
    );
    const rows = page.entries.map((p) =>
      el(
        "tr",
        {},
        el("td", {}, p.id),
        el("td", {}, p.consumer),
        el("td", { class: "n" }, `${num(p.idleMs / 1000)} s`),
        el("td", { class: "n" }, num(p.deliveries)),
      ),
    );
    const head = el(
      "tr",
      {},
      ...["entry", "owner consumer", "idle", "deliveries"].map((h) => el("th", {}, h)),
    );
    box.replaceChildren(
      el("h3", {}, `Why pending: ${stream} / ${group} (first ${page.entries.length})`),
      el(
        "table",
        {},
        el("thead", {}, head),
        el("tbody", {}, ...(rows.length ? rows : [emptyRow(4, "nothing pending")])),
      ),
    );
  } catch (error) {
    box.replaceChildren(el("p", { class: "note" }, `pending entries unavailable: ${error.message}`));
  }
}

// ---- actions ----

const ACTIONS = {
  restart: (b) => api(`actors/${encodeURIComponent(b.dataset.actor)}/restart`, { method: "POST" }),
  pause: (b) => api(`actors/${encodeURIComponent(b.dataset.actor)}/pause`, { method: "POST" }),
  resume: (b) => api(`actors/${encodeURIComponent(b.dataset.actor)}/resume`, { method: "POST" }),
  replay: (b) => api(`dead-letters/${encodeURIComponent(b.dataset.id)}/replay`, { method: "POST" }),
  delete: (b) =>
    confirm(`Delete dead letter ${b.dataset.id}?`)
      ? api(`dead-letters/${encodeURIComponent(b.dataset.id)}`, { method: "DELETE" })
      : null,
  "replay-all": async () => {
    const count = Math.max(0, deadLetters.total);
    if (!confirm(`Replay all ${count} dead letters, in batches?`)) return null;
    const result = await api("dead-letters/replay", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    return { message: `replayed ${result.replayed} dead letters` };
  },
  "dl-more": () => loadDeadLetters(true).then(() => null),
  "alerts-more": () => loadAlerts(true).then(() => null),
  "evidence-close": () => {
    closeEvidence();
    return null;
  },
  pending: (b) => showPending(b.dataset.stream, b.dataset.group).then(() => null),
};

// A row of the alerts table opens its evidence, by click or Enter.
function openRow(event) {
  const row = event.target.closest("#detections tr[data-entry]");
  if (row) showEvidence(row.dataset.entry);
}
$("detections").addEventListener("click", openRow);
$("detections").addEventListener("keydown", (event) => {
  if (event.key === "Enter") openRow(event);
});
for (const select of [$("f-detector"), $("f-severity")]) {
  select.addEventListener("change", () => setFilter(select.dataset.filter, select.value));
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  const action = button && ACTIONS[button.dataset.action];
  if (!action) return;
  button.disabled = true;
  try {
    const result = await action(button);
    if (result) {
      say(result.message ?? `${button.dataset.action}: done`);
      if (["replay", "delete", "replay-all"].includes(button.dataset.action)) loadDeadLetters();
    }
  } catch (error) {
    say(`${button.dataset.action} failed: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
});

// ---- live feed: server-sent events read with fetch (EventSource cannot send the token) ----

const live = { abort: null, timer: null, connections: 0 };

function onEvent(type, data) {
  if (type === "stats") {
    renderHeader(data);
    renderActors(data.actors);
    const { lag, pending, lagSeconds, deadLetters: total } = renderStreams(data.streams);
    if (total !== null && total !== deadLetters.total) {
      deadLetters.total = total;
      loadDeadLetters();
    }
    if (data.detections) $("c-alerts").textContent = fmt.format(data.detections.total);
    // Events past the feed's budget were only counted: detections among them are read from the API.
    if (data.suppressedEvents > 0) catchUp();
    throughputChart.push(data.at, [data.counters.throughput]);
    lagChart.push(data.at, [lag, pending]);
    lagSecondsChart.push(data.at, [lagSeconds]);
    charts.alerts?.push(data.at, alertValues(data.detections?.byDetector));
    pill("live", `live: updated ${new Date(data.at).toLocaleTimeString()}`, "ok");
  } else if (type === "hello") {
    $("alerts").replaceChildren();
    for (const alert of data.recent) addAlert(alert);
    // A new connection after another (a tab shown again, a reconnect): what was written in between is read.
    if (++live.connections > 1) catchUp();
  } else if (type === "detection") {
    addDetection(data);
  } else if (type === "lifecycle" || type === "alert") {
    addAlert(data);
  } else if (type === "shutdown") {
    pill("live", "live: the server is shutting down", "warn");
  }
}

async function connect() {
  clearTimeout(live.timer);
  if (document.hidden || live.abort) return;
  const abort = new AbortController();
  live.abort = abort;
  try {
    const response = await fetch("events", { headers: headers(), signal: abort.signal });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
    }
    pill("live", "live: connected", "ok");
    // Reads that failed before the token was typed are made again once the stream accepts it.
    if (!charts.loaded) loadHistory();
    if (!alertsLoaded()) loadAlerts();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type && data) onEvent(type, JSON.parse(data));
        end = buffer.indexOf("\n\n");
      }
    }
    throw new Error("stream ended");
  } catch (error) {
    if (abort.signal.aborted) return;
    pill("live", `live: disconnected (${error.message}), retrying`, "bad");
  } finally {
    if (live.abort === abort) live.abort = null;
  }
  live.timer = setTimeout(connect, RECONNECT_MS);
}

// Live updates stop while the tab is hidden and resume (with fresh figures) when it is shown again.
document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    live.abort?.abort();
    live.abort = null;
    clearTimeout(live.timer);
    pill("live", "live: paused (tab hidden)", "");
  } else {
    connect();
  }
});

// History and the first page of alerts first, so live points and rows land on top of them.
await Promise.all([loadHistory(), loadAlerts()]);
connect();
