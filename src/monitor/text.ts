/** Text helpers of the monitor's frame: optional colour, numbers, and cutting to a width that ignores escapes. */

export type Tone = "ok" | "warn" | "bad" | "dim" | "bold";
export type Paint = (text: string, tone: Tone) => string;

/** An SGR escape sequence (colour), captured so `split` keeps it. */
const SGR = new RegExp(`(${"\x1b"}\\[[0-9;]*m)`);
const ANSI: Record<Tone, string> = { ok: "32", warn: "33", bad: "31", dim: "2", bold: "1" };
const fmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

export function painter(color: boolean): Paint {
  return color ? (text, tone) => `\x1b[${ANSI[tone]}m${text}\x1b[0m` : (text) => text;
}

export const num = (value: number | null | undefined): string =>
  value === null || value === undefined ? "?" : fmt.format(value);

/** Cuts (with an ellipsis) or pads to `width` visible columns; ANSI sequences are kept and not counted. */
export function fit(text: string, width: number): string {
  let visible = 0;
  let out = "";
  // Odd parts are escape sequences: kept even past the cut, so a colour is always reset.
  for (const [i, part] of text.split(SGR).entries()) {
    if (i % 2 === 1) {
      out += part;
    } else if (visible < width) {
      const room = width - visible;
      const piece = part.length > room ? `${part.slice(0, room - 1)}…` : part;
      out += piece;
      visible += piece.length;
    }
  }
  return out + " ".repeat(width - visible);
}
