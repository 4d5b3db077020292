/** Key → instance, and key → order key: FNV-1a over the key's string form, so the same key always maps alike. */
import type { RouteKey } from "./spawn-options.ts";

export function instanceForKey(key: RouteKey, instances: number): number {
  if (instances === 1) return 0;
  if (typeof key === "number" && Number.isInteger(key)) return Math.abs(key) % instances;
  return fnv1a(String(key)) % instances;
}

/** The 32-bit order key a worker sees (never 0, which means unordered); a collision only orders more. */
export function orderKeyHash(key: RouteKey): number {
  return fnv1a(String(key)) || 1;
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
