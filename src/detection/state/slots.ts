/**
 * Slot arithmetic. Sources without slots (PumpPortal) get 400 ms receive-time buckets, Solana's
 * nominal slot time, and alerts built on them say `timing: 'approx'` (DETECTORS.md section A).
 */
import type { ChainEvent } from "../schema.ts";

export const SLOT_MS = 400;

export function slotOf(event: Pick<ChainEvent, "slot" | "ts">): number {
  return event.slot ?? Math.floor(event.ts / SLOT_MS);
}

export function timingOf(event: Pick<ChainEvent, "slot">): "exact" | "approx" {
  return event.slot === null ? "approx" : "exact";
}
