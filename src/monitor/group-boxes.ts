/**
 * The seed's backpressure-monitor view: a box per consumer group with what an operator watches, its
 * status (the group's watermark: healthy, warning, critical) on top, then pending, lag in entries and in
 * seconds, the delivery rate, workers (the group's consumers) and dead letters; on a partition of a
 * partitioned stream, its owner and the time left on its lease. Boxes stand side by side as the width allows.
 */
import type { StreamGroupInfo } from "../http/streams/source.ts";
import { fit, num, type Paint, type Tone } from "./text.ts";

/**
 * A group as the API reports it. `lagSeconds` (age of the oldest undelivered entry) and `rate` (entries
 * delivered per second) come from APIs that serve them; from one that does not they are absent, and the
 * box shows the lag in entries only and no rate.
 */
export type GroupFigures = StreamGroupInfo & {
  readonly lagSeconds?: number | null;
  readonly rate?: number | null;
};

/** Columns inside a box's borders. */
const INNER = 30;
/** Columns of a box's left cell. */
const LEFT = 17;
const BOX = INNER + 4;
const GAP = 2;

const STATUS: Record<StreamGroupInfo["watermark"], readonly [string, Tone]> = {
  ok: ["HEALTHY", "ok"],
  high: ["WARNING", "warn"],
  critical: ["CRITICAL", "bad"],
};

export function groupBoxes(groups: readonly GroupFigures[], width: number, paint: Paint): string[] {
  const perRow = Math.max(1, Math.floor((width + GAP) / (BOX + GAP)));
  const lines: string[] = [];
  for (let at = 0; at < groups.length; at += perRow) {
    const boxes = groups.slice(at, at + perRow).map((group) => box(group, paint));
    for (let line = 0; line < (boxes[0]?.length ?? 0); line++)
      lines.push(boxes.map((b) => b[line]).join(" ".repeat(GAP)));
  }
  return lines;
}

function box(g: GroupFigures, paint: Paint): string[] {
  const title = ` ${fit(`${g.stream} › ${g.group}`, INNER - 2).trimEnd()} `;
  const [status, tone] = STATUS[g.watermark];
  const seconds = g.lagSeconds === undefined ? "" : ` · ${g.lagSeconds === null ? "?" : num(g.lagSeconds)} s`;
  const rate = g.rate === undefined || g.rate === null ? "?" : `${num(Math.round(g.rate))}/s`;
  const cells = (left: string, right?: string) =>
    `│ ${right === undefined ? fit(left, INNER) : fit(left, LEFT) + fit(right, INNER - LEFT)} │`;
  const p = g.partition;
  return [
    `┌─${title}${"─".repeat(INNER + 1 - title.length)}┐`,
    cells(paint(status, tone), `workers ${num(g.consumers)}`),
    cells(`pending ${num(g.pending)}`, `rate ${rate}`),
    cells(`lag ${num(g.lag)}${seconds}`, p && `owner ${p.owner ?? "none"}`),
    cells(`dead letters ${num(g.deadLetters)}`, p && `lease ${num(p.leaseTtlMs / 1000)} s`),
    `└${"─".repeat(INNER + 2)}┘`,
  ];
}
