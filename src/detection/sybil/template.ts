/**
 * "Templated amounts": the largest share of values lying within ±tolerance of one value (the modal
 * amount). Sybil operators script their funding, so amounts cluster; people withdrawing from an
 * exchange choose their own.
 */
export function modalShare(amounts: readonly number[], tolerance: number): { modal: number; share: number } {
  if (amounts.length === 0) return { modal: 0, share: 0 };
  const sorted = [...amounts].sort((a, b) => a - b);
  let best = 0;
  let modal = sorted[0]!;
  let lo = 0;
  let hi = 0;
  // Two pointers over sorted values: for each candidate mode m, count values in [m(1−tol), m(1+tol)].
  for (const m of sorted) {
    while (sorted[lo]! < m * (1 - tolerance)) lo++;
    while (hi < sorted.length && sorted[hi]! <= m * (1 + tolerance)) hi++;
    if (hi - lo > best) {
      best = hi - lo;
      modal = m;
    }
  }
  return { modal, share: best / sorted.length };
}
