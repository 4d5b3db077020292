/** Key → instance: FNV-1a over the key's string form, so the same key always reaches the same instance. */
import type { RouteKey } from "./spawn-options.ts";

export function instanceForKey(key: RouteKey, instances: number): number {
  if (instances === 1) return 0;
  if (typeof key === "number" && Number.isInteger(key)) return Math.abs(key) % instances;
  const text = String(key);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % instances;
}
