/**
 * The alert envelope (DETECTORS.md section B) and the gate that gives every alert a deterministic id
 * and enforces "one alert per (detector, key) per window, re-emitted only when severity rises".
 *
 * Why the id includes severity: an escalation is a new fact that sinks must deliver, while a
 * redelivered source event must reproduce an id the sinks have already seen. `windowStart` is the
 * event time of the first alert of the window, so replaying the triggering event yields the same
 * id; `groupId` (without severity) ties an escalation to the alert it raises.
 */
import type { DurableTable, Tables } from "../runtime/durable-table.ts";
export type AnalyzerName = "wallet" | "pattern" | "sybil" | "mint";
export type Severity = "low" | "med" | "high";
/** Every detector of the scanner, by name. */
export const DETECTOR_NAMES = [
  "liquidity_injection",
  "fresh_sniper",
  "whale_dominance",
  "sweep_back",
  "creator_reputation",
  "launch_bundle",
  "dev_dump",
  "coordinated_dump",
  "daisy_chain",
  "wash_trading",
  "flash_roundtrip",
  "funding_hub",
  "co_entry_signature",
  "cluster_control",
] as const;

export type DetectorName = (typeof DETECTOR_NAMES)[number];

export type EvidenceValue = number | string | boolean | null | string[] | number[];

export interface Alert {
  /** hash(detector, key, windowStart, severity): stable under redelivery. */
  alertId: string;
  /** hash(detector, key, windowStart): shared by an alert and its escalations. */
  groupId: string;
  detector: DetectorName;
  analyzer: AnalyzerName;
  severity: Severity;
  /** Detector-specific strength in [0, 1]. */
  score: number;
  mint?: string;
  /** The dedup key: a mint, or a cluster root (hub wallet) for sybil detectors. */
  key: string;
  wallets: string[];
  windowStart: number;
  /**
   * Event time of the detection: the triggering event's, or, for an alert raised at a flush (S1's fan-out
   * once the hub paused, S2, S3's component sums), the flush's, which comes after its trigger.
   */
  detectedAt: number;
  /** Id of the event that triggered the alert. */
  triggerId: string;
  /** 'approx' when slots were inferred from receive time (no slot in the source). */
  timing: "exact" | "approx";
  evidence: Record<string, EvidenceValue>;
  /**
   * Ids (`signature:ix`) of the chain events the rule counted, the trades and transfers that made it fire:
   * oldest first, the trigger last, at most {@link MAX_ALERT_EVENTS} (the latest). A detector whose state
   * keeps sums rather than events (a window's volume, a cluster) lists the trigger only.
   */
  events: string[];
}

/**
 * What a detector reports; the gate adds ids, window and analyzer, and makes `events` the list an alert
 * carries (the trigger appended, repeats and ids missing from older state dropped, capped).
 */
export type AlertCandidate = Omit<
  Alert,
  "alertId" | "groupId" | "analyzer" | "windowStart" | "detector" | "events"
> & { events?: readonly (string | undefined)[] };

/** Enough events to check a finding by hand, few enough that an alert stays a few kilobytes at most. */
export const MAX_ALERT_EVENTS = 16;

/** The events an alert carries: `ids` then the trigger, each once, the latest {@link MAX_ALERT_EVENTS}. */
export function alertEvents(ids: readonly (string | undefined)[], triggerId: string): string[] {
  const unique = new Set<string>();
  for (const id of ids) if (id !== undefined && id !== triggerId) unique.add(id);
  unique.add(triggerId);
  const all = [...unique];
  return all.length > MAX_ALERT_EVENTS ? all.slice(-MAX_ALERT_EVENTS) : all;
}

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { low: 1, med: 2, high: 3 };

export function alertHash(...parts: (string | number)[]): string {
  return Bun.hash.wyhash(parts.join("\u001f")).toString(16).padStart(16, "0");
}

/** Evidence numbers are rounded so alerts stay small and diff cleanly across runs. */
export function round4(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

interface OpenWindow {
  windowStart: number;
  rank: number;
}

/** The open windows are the durable table `gate`: a restarted analyzer reproduces the same ids. */
export class AlertGate {
  readonly #open: DurableTable<OpenWindow>;
  readonly #analyzer: AnalyzerName;
  readonly #windowMs: number;

  constructor(tables: Tables, analyzer: AnalyzerName, windowMs: number) {
    this.#open = tables.table("gate");
    this.#analyzer = analyzer;
    this.#windowMs = windowMs;
  }

  /** Returns the alert to emit, or undefined when the window already holds one as severe. */
  admit(detector: DetectorName, c: AlertCandidate): Alert | undefined {
    const slot = `${detector}\u001f${c.key}`;
    const rank = SEVERITY_RANK[c.severity];
    let open = this.#open.get(slot);
    if (open !== undefined && c.detectedAt - open.windowStart >= this.#windowMs) open = undefined;
    if (open !== undefined && rank <= open.rank) return undefined;
    const windowStart = open?.windowStart ?? c.detectedAt;
    this.#open.set(slot, { windowStart, rank });
    const groupId = alertHash(detector, c.key, windowStart);
    const { events, ...candidate } = c;
    return {
      alertId: alertHash(detector, c.key, windowStart, c.severity),
      groupId,
      detector,
      analyzer: this.#analyzer,
      windowStart,
      ...candidate,
      events: alertEvents(events ?? [], c.triggerId),
    };
  }

  /** Drops closed windows; bounded by the number of keys that alerted in the last window. */
  prune(nowTs: number): void {
    for (const [slot, open] of this.#open) {
      if (nowTs - open.windowStart >= this.#windowMs) this.#open.delete(slot);
    }
  }

  get size(): number {
    return this.#open.size;
  }
}
