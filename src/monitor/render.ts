/**
 * One frame of the terminal monitor as text: a box with the readiness and backend state, header
 * counters, the latest alerts (newest first, one line each, as `bun run start` prints them), an actors
 * table, and the seed's backpressure view: a box per consumer group (status, pending, lag, rate, workers).
 * Colour is optional: plain text when stdout is not a terminal or NO_COLOR is set.
 */
import type { Alert } from "../detection/alert.ts";
import type { ActorView } from "../http/views.ts";
import { alertLine } from "../scanner/alert-line.ts";
import type { MonitorFrame } from "./client.ts";
import { groupBoxes } from "./group-boxes.ts";
import { fit, num, type Paint, painter, type Tone } from "./text.ts";

export interface RenderOptions {
  color: boolean;
  /** Columns available; lines are cut to fit. */
  width: number;
}

export function renderFrame(frame: MonitorFrame, options: RenderOptions): string {
  const paint = painter(options.color);
  const inner = Math.max(40, options.width - 4);
  const lines: string[] = [];
  const rule = (label: string, left: string, right: string) =>
    `${left}─ ${label} ${"─".repeat(Math.max(0, inner - label.length - 1))}${right}`;
  const row = (text: string) => `│ ${fit(text, inner)} │`;

  lines.push(rule(`Troupe monitor · ${frame.url} · ${new Date(frame.at).toLocaleTimeString()}`, "┌", "┐"));
  lines.push(row(healthLine(frame, paint)));
  for (const reason of frame.readiness?.reasons ?? [])
    lines.push(row(`  ${paint("·", "warn")} ${reason.message}`));
  lines.push(row(backendLine(frame, paint)));
  if (frame.actors) lines.push(row(countersLine(frame.actors)));
  lines.push(rule("alerts, newest first", "├", "┤"));
  for (const line of alertLines(frame.alerts, options.color, paint)) lines.push(row(line));
  lines.push(rule("actors", "├", "┤"));
  for (const line of actorLines(frame.actors, paint)) lines.push(row(line));
  lines.push(rule("consumer groups", "├", "┤"));
  const groups = frame.streams?.groups ?? null;
  if (groups === null) lines.push(row(paint("streams unavailable", "bad")));
  else if (groups.length === 0) lines.push(row(paint("no consumer groups", "dim")));
  else for (const line of groupBoxes(groups, inner, paint)) lines.push(row(line));
  for (const error of frame.errors) lines.push(row(paint(`error: ${error}`, "bad")));
  lines.push(`└${"─".repeat(inner + 2)}┘`);
  return lines.join("\n");
}

function healthLine(frame: MonitorFrame, paint: Paint): string {
  const status = frame.readiness?.status;
  if (!status) return `health: ${paint("unknown (no answer)", "bad")}`;
  const tone: Tone = status === "ok" ? "ok" : status === "degraded" ? "warn" : "bad";
  return `health: ${paint(status.toUpperCase(), tone)}`;
}

function backendLine(frame: MonitorFrame, paint: Paint): string {
  if (frame.streams === null && frame.readiness === null) return `backend: ${paint("unknown", "bad")}`;
  const backend = frame.streams?.backend ?? frame.readiness?.backend ?? null;
  if (!backend) return "backend: none (actors only)";
  if (!backend.up)
    return `backend: ${backend.kind} ${paint("DOWN", "bad")} (${backend.error ?? "no answer"})`;
  return `backend: ${backend.kind} ${paint("up", "ok")}, ping ${num(backend.pingMs)} ms`;
}

function countersLine(actors: readonly ActorView[]): string {
  const sum = (pick: (a: ActorView) => number) => actors.reduce((total, a) => total + pick(a), 0);
  const alive = sum((a) => a.instances.filter((i) => i.state === "running" || i.state === "paused").length);
  const workers = sum((a) => a.instances.length);
  return [
    `throughput ${num(sum((a) => a.totals.rate["1s"]))} msg/s`,
    `processed ${num(sum((a) => a.totals.processed))}`,
    `failed ${num(sum((a) => a.totals.failed))}`,
    `dead-lettered ${num(sum((a) => a.totals.deadLettered))}`,
    `restarts ${num(sum((a) => a.totals.restarts))}`,
    `workers alive ${alive}/${workers}`,
  ].join("   ");
}

function actorLines(actors: readonly ActorView[] | null, paint: Paint): string[] {
  if (actors === null) return [paint("actors unavailable", "bad")];
  if (actors.length === 0) return [paint("no actors", "dim")];
  const rows = actors.map((a) => {
    const t = a.totals;
    const status = a.paused ? `paused (${a.pausedBy.join(", ")})` : a.status;
    const tone: Tone = a.paused ? "warn" : status === "running" ? "ok" : status === "failed" ? "bad" : "warn";
    return [
      a.name,
      [status, tone] as const,
      `${a.instances.length}`,
      `${num(t.capacity - t.credits)}/${num(t.capacity)}`,
      num(t.inFlight),
      num(t.waiting),
      num(t.rate["1s"]),
      num(t.processed),
      num(t.failed),
      num(t.restarts),
      `${num(t.latencyMs.p50)}/${num(t.latencyMs.p99)}`,
      t.lastError ? t.lastError.message : "",
    ];
  });
  const head = [
    "actor",
    "status",
    "inst",
    "held/cap",
    "in flight",
    "waiting",
    "msg/s",
    "processed",
    "failed",
    "restarts",
    "p50/p99 ms",
    "last error",
  ];
  return table(head, rows, paint);
}

function alertLines(alerts: MonitorFrame["alerts"], color: boolean, paint: Paint): string[] {
  if (alerts === "not-served") return [paint("this instance serves no alerts (no GET /alerts)", "dim")];
  if (alerts === null) return [paint("alerts unavailable", "bad")];
  if (alerts.length === 0) return [paint("none yet", "dim")];
  return alerts.map((alert: Alert) => alertLine(alert, { color }));
}

type Cell = string | readonly [string, Tone];

/** Left-aligned first column, right-aligned numbers; painted cells are padded before painting. */
function table(head: string[], rows: Cell[][], paint: Paint): string[] {
  const text = (cell: Cell) => (typeof cell === "string" ? cell : cell[0]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i] ?? "").length)));
  const line = (cells: Cell[], header: boolean) =>
    cells
      .map((cell, i) => {
        const padded =
          i === 0 || i === cells.length - 1
            ? text(cell).padEnd(widths[i] ?? 0)
            : text(cell).padStart(widths[i] ?? 0);
        if (header) return paint(padded, "dim");
        return typeof cell === "string" ? padded : paint(padded, cell[1]);
      })
      .join("  ")
      .trimEnd();
  return [line(head, true), ...rows.map((r) => line(r, false))];
}
