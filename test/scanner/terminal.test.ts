/** The terminal's pieces on their own: the alert line, the progress line's fitting, the shared terminal. */
import { describe, expect, test } from "bun:test";
import type { Alert } from "../../src/detection/alert.ts";
import { alertLine, keyFigure, shorten } from "../../src/scanner/alert-line.ts";
import { fitFields } from "../../src/scanner/progress.ts";
import { Terminal, type TerminalStream } from "../../src/scanner/terminal.ts";

const ALERT: Alert = {
  alertId: "a1",
  groupId: "g1",
  detector: "launch_bundle",
  analyzer: "pattern",
  severity: "high",
  score: 0.9,
  mint: "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
  key: "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU",
  wallets: ["w1", "w2", "w3", "w4", "w5", "w6"],
  windowStart: 0,
  detectedAt: new Date(2025, 9, 9, 9, 3, 33).getTime(),
  triggerId: "t:0",
  events: ["t:0"],
  timing: "exact",
  evidence: { supplyFraction: 0.2312, slots: 2 },
};

describe("alertLine", () => {
  test("time, severity, detector, the mint shortened, the key figure and the wallets", () => {
    expect(alertLine(ALERT, { color: false })).toBe(
      "09:03:33  HIGH  launch_bundle        mint 7xKX…gAsU    bundle holds 23.1%, 6 wallets",
    );
  });

  test("colour on the severity only; a sybil alert names its wallet; no known figure shows the score", () => {
    expect(alertLine(ALERT, { color: true })).toContain("  \x1b[1;31mHIGH\x1b[0m  launch_bundle");
    const hub: Alert = {
      ...ALERT,
      detector: "funding_hub",
      severity: "low",
      mint: undefined,
      key: "txguv5bn9SG2Pqosi6bENSt1VekmQ2",
      wallets: ["x"],
      evidence: { recipients: 7 },
    };
    expect(alertLine(hub, { color: false })).toBe(
      "09:03:33  LOW   funding_hub          wallet txgu…kmQ2  7 recipients",
    );
    expect(keyFigure({ ...hub, evidence: {} })).toBe("score 0.9");
    expect(shorten("short")).toBe("short");
  });
});

describe("the progress line", () => {
  const field = (steps: number[], ...forms: string[]) => ({ forms, steps });
  const busy = [
    field([4], "in 123,456,789 (45,000/s)", "in 123,456,789"),
    field(
      [1, 3, 5],
      "wallet-analyzer 45000/s lag 123456 | pattern-recognition 44000/s lag 234567 | sybil-detection 43000/s lag 345678",
      "wallet 45000/s lag 123456 | pattern 44000/s lag 234567 | sybil 43000/s lag 345678",
      "analyzers 43000/s lag 345678",
      "lag 345678",
    ),
    field([2], `alerts ${"funding_hub=12345 ".repeat(14).trim()}`, "alerts 172830"),
    field([6], "health degraded", "degraded"),
  ];

  test("the fullest forms when there is room (a pipe)", () => {
    expect(fitFields(busy, Number.POSITIVE_INFINITY)).toStartWith(
      "in 123,456,789 (45,000/s) | wallet-analyzer 45000/s lag 123456 | pattern-recognition",
    );
  });

  test("on 80 columns: the least needed fields shortened first, within 79 columns, health kept", () => {
    const line = fitFields(busy, 79);
    expect(line).toBe("in 123,456,789 | analyzers 43000/s lag 345678 | alerts 172830 | health degraded");
    expect(line.length).toBeLessThanOrEqual(79);
  });

  test("narrower than the shortest forms: cut with an ellipsis", () => {
    const line = fitFields(busy, 30);
    expect(line).toBe("in 123,456,789 | lag 345678 |…");
  });
});

describe("Terminal", () => {
  const stream = (isTTY: boolean, columns?: number) => {
    const written: string[] = [];
    const s: TerminalStream & { written: string[] } = {
      written,
      isTTY,
      ...(columns !== undefined && { columns }),
      write: (text: string) => written.push(text),
    };
    return s;
  };

  test("one terminal: the status in place, cut to the width; a printed line takes its row, the status comes back below", () => {
    const out = stream(true);
    const err = stream(true, 20);
    const terminal = new Terminal(out, err);
    terminal.status("in 100 | health ok and more");
    terminal.print("ALERT one");
    terminal.status("in 200 | health ok");
    terminal.note("replay done");
    terminal.close();
    expect(err.written).toEqual([
      "\r\x1b[2Kin 100 | health ok…",
      "\r\x1b[2K",
      "in 100 | health ok…",
      "\r\x1b[2Kin 200 | health ok",
      "\r\x1b[2K",
      "replay done\n",
      "in 200 | health ok",
      "\n",
    ]);
    expect(out.written).toEqual(["ALERT one\n"]);
    expect(terminal.statusWidth).toBe(19);
  });

  test("piped: each status a whole line, uncut; printed lines untouched", () => {
    const out = stream(false);
    const err = stream(false);
    const terminal = new Terminal(out, err);
    terminal.status("x".repeat(200));
    terminal.print("{}");
    terminal.close();
    expect(err.written).toEqual([`${"x".repeat(200)}\n`]);
    expect(out.written).toEqual(["{}\n"]);
    expect(terminal.statusWidth).toBe(Number.POSITIVE_INFINITY);
  });
});
