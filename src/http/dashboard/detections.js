// The alerts table: the detections of GET /alerts, newest first, filtered by detector and severity, paged
// with the API's cursor; new ones arrive as `detection` events and go on top. What the live feed did not
// carry (events past its budget, a tab hidden, a connection lost) is read again as the first page. A click on a row (or Enter)
// shows what its detector recorded: the evidence figures, the wallets, the events that made it fire.
import { $, api, el, emptyRow } from "./dom.js";

const PAGE = 50;
/** Rows kept while alerts stream in live; older ones are a "Load more" away. */
const MAX_ROWS = 500;

const table = {
  next: null,
  shown: new Set(),
  filters: { detector: "", severity: "" },
  loaded: false,
  /** Bumped by every first-page load: an answer to an older request (a filter since changed) is dropped. */
  generation: 0,
  /** The newest entry up to which the table holds every alert (its first page, or a catch-up's newest). */
  synced: null,
};

/** Orders stream entry ids ("ms-seq"), as numbers. */
function compareIds(a, b) {
  const [am, as] = a.split("-").map(Number);
  const [bm, bs] = b.split("-").map(Number);
  return am - bm || as - bs;
}
/** Evidence figures are rounded to 4 places by the detectors: show them as recorded. */
const exact = new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 });

/** Fills the filter menus with the names the API knows (GET /history). */
export function setChoices(detectors, severities) {
  const options = (names) => names.map((name) => el("option", { value: name }, name));
  $("f-detector").replaceChildren(el("option", { value: "" }, "all"), ...options(detectors));
  $("f-severity").replaceChildren(el("option", { value: "" }, "all"), ...options(severities));
}

export function setFilter(name, value) {
  table.filters[name] = value;
  return loadAlerts();
}

/** `AbCd…WxYz` for long base58 addresses; the full one is in the cell's title. */
function short(text) {
  if (!text) return "";
  return text.length > 14 ? `${text.slice(0, 5)}…${text.slice(-4)}` : text;
}

function walletsText(wallets = []) {
  if (wallets.length === 0) return "";
  return wallets.length === 1 ? short(wallets[0]) : `${short(wallets[0])} +${wallets.length - 1}`;
}

function value(v) {
  if (Array.isArray(v)) return v.map((x) => (typeof x === "string" ? short(x) : exact.format(x))).join(", ");
  if (typeof v === "number") return exact.format(v);
  return String(v);
}

/** The first few scalar figures of the evidence: what the detector measured. */
function keyFigures(evidence = {}) {
  return Object.entries(evidence)
    .filter(([, v]) => !Array.isArray(v) && v !== null)
    .slice(0, 3)
    .map(([k, v]) => `${k} ${value(v)}`)
    .join(" · ");
}

function row(a, fresh) {
  return el(
    "tr",
    {
      "data-entry": a.entryId,
      "data-alert": a.alertId,
      "data-detector": a.detector,
      "data-severity": a.severity,
      class: fresh ? "detection fresh" : "detection",
      tabIndex: 0,
      title: "show the evidence",
    },
    el("td", {}, new Date(a.writtenAt).toLocaleTimeString([], { hour12: false })),
    el("td", { class: `sev sev-${a.severity}` }, a.severity),
    el("td", {}, a.detector),
    el("td", { title: a.mint ?? a.key ?? "" }, short(a.mint ?? a.key)),
    el("td", { title: (a.wallets ?? []).join("\n") }, walletsText(a.wallets)),
    el("td", { class: "n" }, typeof a.score === "number" ? exact.format(a.score) : ""),
    el("td", { class: "figures" }, keyFigures(a.evidence)),
  );
}

function query(cursor) {
  const params = new URLSearchParams({ count: String(PAGE) });
  if (table.filters.detector) params.set("detector", table.filters.detector);
  if (table.filters.severity) params.set("severity", table.filters.severity);
  if (cursor) params.set("cursor", cursor);
  return `alerts?${params}`;
}

/** Whether the first page came in (reads may need the token, typed after the page opened). */
export const alertsLoaded = () => table.loaded;

export async function loadAlerts(more = false) {
  const body = $("detections").tBodies[0];
  const generation = more ? table.generation : ++table.generation;
  try {
    const page = await api(query(more ? table.next : null));
    if (generation !== table.generation) return;
    table.loaded = true;
    if (!more) table.shown.clear();
    const rows = page.alerts.filter((a) => !table.shown.has(a.entryId)).map((a) => row(a, false));
    for (const a of page.alerts) table.shown.add(a.entryId);
    if (more) body.append(...rows);
    else body.replaceChildren(...(rows.length ? rows : [emptyRow(7, "no alerts")]));
    table.next = page.next;
    // An empty first page is complete from the stream's start.
    if (!more) table.synced = page.alerts[0]?.entryId ?? "0-0";
    $("alerts-more").hidden = page.next === null;
  } catch (error) {
    if (generation === table.generation)
      body.replaceChildren(emptyRow(7, `alerts unavailable: ${error.message}`));
  }
}

/**
 * Reads what the live feed did not carry: pages from the newest down to the last entry the table was
 * complete at, and puts the alerts it lacks where they belong by entry id.
 */
export async function catchUp() {
  const synced = table.synced;
  if (!table.loaded || synced === null) return loadAlerts();
  const generation = table.generation;
  const missing = [];
  let cursor = null;
  let newest = null;
  try {
    for (let pages = 0; pages < MAX_ROWS / PAGE; pages++) {
      const page = await api(query(cursor));
      if (generation !== table.generation) return;
      newest ??= page.alerts[0]?.entryId ?? null;
      const older = page.alerts.findIndex((a) => compareIds(a.entryId, synced) <= 0);
      for (const a of older < 0 ? page.alerts : page.alerts.slice(0, older))
        if (!table.shown.has(a.entryId)) missing.push(a);
      if (older >= 0 || page.next === null) break;
      cursor = page.next;
    }
  } catch {
    return; // The next catch-up or reconnect reads again.
  }
  if (generation !== table.generation) return;
  if (newest !== null) table.synced = newest;
  if (missing.length === 0) return;
  const body = $("detections").tBodies[0];
  body.querySelector("td.empty")?.parentElement.remove();
  for (const a of missing) table.shown.add(a.entryId);
  const rows = [...body.rows, ...missing.map((a) => row(a, true))];
  rows.sort((x, y) => compareIds(y.dataset.entry, x.dataset.entry));
  for (const dropped of rows.splice(MAX_ROWS)) table.shown.delete(dropped.dataset.entry);
  body.replaceChildren(...rows);
}

function matches(a) {
  const { detector, severity } = table.filters;
  return (!detector || a.detector === detector) && (!severity || a.severity === severity);
}

/** A `detection` event: on top of the table when it passes the filters. */
export function addDetection(a) {
  if (!matches(a) || table.shown.has(a.entryId)) return;
  table.shown.add(a.entryId);
  const body = $("detections").tBodies[0];
  body.querySelector("td.empty")?.parentElement.remove();
  body.prepend(row(a, true));
  while (body.rows.length > MAX_ROWS) {
    table.shown.delete(body.lastElementChild.dataset.entry);
    body.lastElementChild.remove();
  }
}

function facts(pairs) {
  return el(
    "dl",
    {},
    ...pairs
      .filter(([, v]) => v !== undefined && v !== null && v !== "")
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]),
  );
}

function list(title, items, field) {
  if (!items || items.length === 0) return null;
  return el(
    "div",
    { "data-field": field },
    el("h4", {}, `${title} (${items.length})`),
    el("ul", { class: "ids" }, ...items.map((item) => el("li", {}, item))),
  );
}

export async function showEvidence(id) {
  const box = $("evidence");
  box.hidden = false;
  box.replaceChildren(el("p", {}, `alert ${id}: loading`));
  try {
    const a = await api(`alerts/${encodeURIComponent(id)}`);
    const evidence = Object.entries(a.evidence ?? {});
    box.replaceChildren(
      el(
        "h3",
        {},
        `${a.detector} · ${a.severity}${typeof a.score === "number" ? ` · score ${exact.format(a.score)}` : ""}`,
        el("button", { type: "button", "data-action": "evidence-close" }, "Close"),
      ),
      facts([
        ["alert id", a.alertId],
        ["group id", a.groupId],
        ["analyzer", a.analyzer],
        ["mint", a.mint],
        ["key", a.key !== a.mint ? a.key : undefined],
        ["written", new Date(a.writtenAt).toLocaleString()],
        ["detected (event time)", a.detectedAt ? new Date(a.detectedAt).toISOString() : undefined],
        ["trigger event", a.triggerId],
        ["timing", a.timing],
        ["stream entry", a.entryId],
      ]),
      el(
        "table",
        { class: "figures-table", "data-field": "evidence" },
        el("thead", {}, el("tr", {}, el("th", {}, "evidence"), el("th", {}, "value"))),
        el(
          "tbody",
          {},
          ...(evidence.length
            ? evidence.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, value(v))))
            : [emptyRow(2, "no figures recorded")]),
        ),
      ),
      list("Wallets", a.wallets, "wallets"),
      list("Events that made it fire", a.events, "events"),
    );
  } catch (error) {
    box.replaceChildren(el("p", { class: "note" }, `alert ${id} unavailable: ${error.message}`));
  }
}

export function closeEvidence() {
  $("evidence").hidden = true;
}
