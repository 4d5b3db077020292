/**
 * An alert as one line for a person at a terminal: time, severity, detector, the mint (or the wallet a
 * sybil alert is keyed by) shortened, and the figure that made it fire. `bun run start` prints it when
 * stdout is a terminal; `bun run monitor` lists alerts with it.
 *
 *   09:03:33  HIGH  launch_bundle       mint 7xKX…p9Q2    bundle holds 23.1%, 6 wallets
 */
import type { Alert, DetectorName, EvidenceValue } from "../detection/alert.ts";

export interface AlertLineOptions {
  /** Severity in colour (SGR escapes); off for NO_COLOR and anything that is not a terminal. */
  color: boolean;
}

type Evidence = Readonly<Record<string, EvidenceValue | undefined>>;

/** Reads one number of the evidence into a phrase; `null` when the evidence lacks it. */
const figure =
  (field: string, phrase: (value: number) => string) =>
  (evidence: Evidence): string | null => {
    const value = evidence[field];
    return typeof value === "number" ? phrase(value) : null;
  };
const pct = (value: number) => `${round(value * 100)}%`;

/**
 * The figure each detector's alert turns on (DETECTORS.md), read from its evidence: the first reader that
 * finds its field. Evidence without any of them shows the score.
 */
const KEY_FIGURES: Readonly<Record<DetectorName, ReadonlyArray<(evidence: Evidence) => string | null>>> = {
  liquidity_injection: [figure("injectedSol", (v) => `injected ${round(v)} SOL`)],
  fresh_sniper: [figure("supplyFraction", (v) => `snipers hold ${pct(v)}`)],
  whale_dominance: [figure("buyShare", (v) => `buy share ${pct(v)}`)],
  sweep_back: [figure("sweptSol", (v) => `swept ${round(v)} SOL`)],
  creator_reputation: [
    (e) => (e.rule === "dev_dumps" ? figure("devDumps", (v) => `${v} dev dumps`)(e) : null),
    figure("launches24h", (v) => `${v} launches in 24 h`),
  ],
  launch_bundle: [figure("supplyFraction", (v) => `bundle holds ${pct(v)}`)],
  dev_dump: [figure("soldOfPeak", (v) => `dev sold ${pct(v)} of peak`)],
  coordinated_dump: [figure("sellers", (v) => `${v} sellers`)],
  daisy_chain: [figure("hops", (v) => `${v} hops`)],
  wash_trading: [figure("volumeSol", (v) => `volume ${round(v)} SOL`)],
  flash_roundtrip: [figure("roundtrips", (v) => `${v} round trips`)],
  funding_hub: [figure("recipients", (v) => `${v} recipients`)],
  co_entry_signature: [figure("wallets", (v) => `${v} wallets entered together`)],
  cluster_control: [figure("supplyFraction", (v) => `cluster holds ${pct(v)}`)],
};

const SEVERITY_SGR = { high: "1;31", med: "33", low: "36" } as const;
/** The longest detector name, so the columns after it line up. */
const DETECTOR_WIDTH = Math.max(...Object.keys(KEY_FIGURES).map((name) => name.length));

export function alertLine(alert: Alert, options: AlertLineOptions): string {
  const severity = alert.severity.toUpperCase().padEnd(4);
  const painted = options.color ? `\x1b[${SEVERITY_SGR[alert.severity]}m${severity}\x1b[0m` : severity;
  const subject = alert.mint ? `mint ${shorten(alert.mint)}` : `wallet ${shorten(alert.key)}`;
  const wallets = alert.wallets.length > 1 ? `, ${alert.wallets.length} wallets` : "";
  return [
    clock(alert.detectedAt),
    painted,
    alert.detector.padEnd(DETECTOR_WIDTH),
    subject.padEnd(16),
    `${keyFigure(alert)}${wallets}`,
  ].join("  ");
}

/** The detector's key figure, or its score when the evidence does not carry it. */
export function keyFigure(alert: Alert): string {
  for (const read of KEY_FIGURES[alert.detector] ?? []) {
    const found = read(alert.evidence ?? {});
    if (found) return found;
  }
  return `score ${round(alert.score)}`;
}

/** `7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU` → `7xKX…gAsU`. */
export function shorten(address: string): string {
  return address.length <= 10 ? address : `${address.slice(0, 4)}…${address.slice(-4)}`;
}

/** Event time as local HH:MM:SS: the moment on chain, which for a replay is not now. */
function clock(ts: number): string {
  const d = new Date(ts);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

function round(value: number): string {
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: value < 10 ? 2 : 1 }).format(value);
}
