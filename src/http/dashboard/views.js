// Rendering of the live figures: header counters and pills, the charts, the actors and consumer-group
// tables, the runtime events list. They draw a `stats` snapshot from /events.
import { $, el, emptyRow, fmt, num } from "./dom.js";

/** Half an hour of history at its 5 s period, then a point a second while the page is open. */
const POINTS = 2_400;
const MAX_ALERTS = 100;
const PALETTE = ["#2f5fd0", "#b54708", "#12805c", "#c01048", "#6941c6", "#0e7090", "#a15c07", "#475467"];

/** A colour per series, cycling the palette with dashes so fourteen detectors stay apart. */
export function seriesStyle(index) {
  const stroke = PALETTE[index % PALETTE.length];
  return index < PALETTE.length ? { stroke } : { stroke, dash: [6, 3] };
}

/**
 * A small time-series chart; `uPlot` is the global of uPlot's IIFE build, loaded by the page first.
 * `series` is `[label, style]` pairs; `push` adds a point, `fill` replaces everything (the history).
 */
export function chart(target, series) {
  const data = [[], ...series.map(() => [])];
  const plot = new uPlot(
    {
      width: Math.max(300, target.clientWidth - 8),
      height: 170,
      legend: { live: false },
      scales: { x: { time: true } },
      series: [
        {},
        ...series.map(([label, style]) => ({
          label,
          width: 2,
          ...(typeof style === "string" ? { stroke: style } : style),
        })),
      ],
      axes: [
        {
          // Whole seconds at least, labelled HH:MM:SS: sub-second ticks would repeat the same label.
          space: 80,
          incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600],
          values: (_, ticks) =>
            ticks.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false })),
        },
        { size: 60 },
      ],
    },
    data,
    target,
  );
  target.dataset.points = "0";
  const add = (at, values) => {
    data[0].push(at / 1000);
    for (const [i, column] of data.slice(1).entries()) column.push(values[i] ?? null);
    if (data[0].length > POINTS) for (const column of data) column.shift();
  };
  const draw = () => {
    plot.setData(data);
    target.dataset.points = String(data[0].length);
  };
  return {
    push(at, values) {
      // A live point older than the last one (history loaded after the first stats) is not drawn twice.
      if (data[0].length > 0 && at / 1000 <= data[0][data[0].length - 1]) return;
      add(at, values);
      draw();
    },
    fill(points) {
      for (const column of data) column.length = 0;
      for (const [at, values] of points) add(at, values);
      draw();
    },
  };
}

function duration(seconds) {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export function pill(id, text, level) {
  const node = $(id);
  node.textContent = text;
  node.className = `pill ${level}`;
}

export function renderHeader(stats) {
  const c = stats.counters;
  $("c-throughput").textContent = fmt.format(c.throughput);
  $("c-processed").textContent = fmt.format(c.processed);
  $("c-failed").textContent = fmt.format(c.failed);
  $("c-dead-lettered").textContent = fmt.format(c.deadLettered);
  $("c-restarts").textContent = fmt.format(c.restarts);
  $("c-uptime").textContent = duration(c.uptimeSeconds);
  const r = stats.readiness;
  pill("health", `health: ${r.status}`, r.status === "ok" ? "ok" : r.status === "degraded" ? "warn" : "bad");
  $("reasons").replaceChildren(...r.reasons.map((reason) => el("li", {}, reason.message)));
  const b = stats.streams.backend;
  if (!b) pill("backend", "backend: none (actors only)", "");
  else if (!b.up) pill("backend", `${b.kind}: down (${b.error ?? "no answer"})`, "bad");
  else pill("backend", `${b.kind}: up, ping ${b.pingMs} ms`, "ok");
}

/** "paused (lease)": who holds a paused actor, since a resume from here releases only the operator's pause. */
function actorStatus(actor) {
  return actor.paused ? `paused (${actor.pausedBy.join(", ")})` : actor.status;
}

function actorButtons(actor) {
  if (actor.status !== "running") return el("td");
  return el(
    "td",
    {},
    el("button", { type: "button", "data-action": "restart", "data-actor": actor.name }, "Restart"),
    // A resume releases the operator's pause only (a lapsed lease's hold ends when the lease comes back).
    actor.pausedBy.includes("operator")
      ? el("button", { type: "button", "data-action": "resume", "data-actor": actor.name }, "Resume")
      : el("button", { type: "button", "data-action": "pause", "data-actor": actor.name }, "Pause"),
  );
}

export function renderActors(actors) {
  const rows = actors.map((a) => {
    const t = a.totals;
    const states = a.instances.map((i) => i.state).join(", ");
    const error = t.lastError ? `${t.lastError.code ?? t.lastError.name}: ${t.lastError.message}` : "";
    return el(
      "tr",
      { "data-actor": a.name, class: a.paused ? "paused" : a.status === "failed" ? "failed" : "" },
      el("td", {}, a.name),
      el("td", { "data-field": "status" }, actorStatus(a)),
      el("td", {}, `${a.instances.length}: ${states}`),
      el("td", { class: "n" }, `${num(t.capacity - t.credits)} / ${num(t.capacity)}`),
      el("td", { class: "n" }, num(t.inFlight)),
      el("td", { class: "n" }, num(t.waiting)),
      el("td", { class: "n", "data-field": "rate" }, num(t.rate["1s"])),
      el("td", { class: "n", "data-field": "processed" }, num(t.processed)),
      el("td", { class: "n" }, num(t.failed)),
      el("td", { class: "n", "data-field": "restarts" }, num(t.restarts)),
      el("td", { class: "n" }, `${num(t.latencyMs.p50)} / ${num(t.latencyMs.p99)}`),
      el("td", { class: "error" }, error),
      actorButtons(a),
    );
  });
  $("actors").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(13, "no actors")]));
}

/** The seed monitor's words for a group's watermark state. */
const STATUS = { ok: "healthy", high: "warning", critical: "critical" };

function seconds(value) {
  if (value === null || value === undefined) return "unknown";
  return value < 10 ? `${fmt.format(value)} s` : `${Math.round(value)} s`;
}

/**
 * Which of its ownership's units reads the group (a partition of a stream, or one of the scanner's
 * analyzers), who owns it and the time left on the lease.
 */
function partitionNote(p) {
  const owner = p.owner === null ? "no owner" : `owner ${p.owner}`;
  return el(
    "div",
    { class: "partition", "data-field": "partition" },
    `${p.of} ${p.index + 1}/${p.partitions} · ${owner} · lease ${seconds(p.leaseTtlMs / 1000)}`,
  );
}

export function renderStreams(streams) {
  $("streams-note").textContent = streams.error ? `stream figures unavailable: ${streams.error}` : "";
  const groups = streams.groups ?? [];
  const rows = groups.map((g) =>
    el(
      "tr",
      { "data-stream": g.stream, "data-group": g.group },
      el("td", {}, g.stream),
      el("td", {}, g.group, g.partition ? partitionNote(g.partition) : null),
      el(
        "td",
        { class: `state-${g.watermark}`, "data-field": "status", "data-status": g.watermark },
        STATUS[g.watermark] ?? g.watermark,
      ),
      el("td", { class: "n", "data-field": "pending" }, num(g.pending)),
      el("td", { class: "n", "data-field": "lag" }, num(g.lag)),
      el("td", { class: "n", "data-field": "lag-seconds" }, seconds(g.lagSeconds)),
      el("td", { class: "n", "data-field": "rate" }, num(g.rate)),
      el("td", { class: "n" }, num(g.consumers)),
      el("td", { class: "n" }, num(g.length)),
      el(
        "td",
        { class: "n" },
        g.oldestPendingIdleMs === null ? "–" : `${num(g.oldestPendingIdleMs / 1000)} s`,
      ),
      el("td", { class: "n" }, num(g.deadLetters)),
      el(
        "td",
        {},
        el(
          "button",
          { type: "button", "data-action": "pending", "data-stream": g.stream, "data-group": g.group },
          "Pending",
        ),
      ),
    ),
  );
  const empty = streams.groups === null ? "unavailable" : "no stream groups";
  $("streams").tBodies[0].replaceChildren(...(rows.length ? rows : [emptyRow(12, empty)]));
  // Groups of one stream share its dead-letter stream: count each dead-letter stream once.
  const dlq = new Map(groups.map((g) => [g.deadLetterStream, g.deadLetters]));
  const deadLetters = streams.groups === null ? null : [...dlq.values()].reduce((sum, n) => sum + n, 0);
  if (deadLetters !== null) $("c-dlq").textContent = fmt.format(deadLetters);
  const sum = (pick) => groups.reduce((total, g) => total + (pick(g) ?? 0), 0);
  const known = streams.groups !== null;
  return {
    lag: known ? sum((g) => g.lag) : null,
    pending: known ? sum((g) => g.pending) : null,
    lagSeconds: known ? Math.max(0, ...groups.map((g) => g.lagSeconds ?? 0)) : null,
    deadLetters,
  };
}

function alertItem(alert) {
  const time = new Date(alert.at).toLocaleTimeString();
  return el(
    "li",
    { class: alert.level, "data-kind": alert.kind, "data-source": alert.source },
    el("time", {}, time),
    alert.message,
  );
}

export function addAlert(alert) {
  const list = $("alerts");
  list.prepend(alertItem(alert));
  while (list.children.length > MAX_ALERTS) list.lastChild.remove();
}
