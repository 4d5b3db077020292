/**
 * Robust dispersion: σ estimated as MAD / 0.67449, which equals the standard deviation for normal
 * data but is not dragged by the fat tails of launch-phase returns [MAR].
 */
const MAD_TO_SIGMA = 0.67449;

function medianInPlace(values: Float64Array): number {
  values.sort();
  const mid = values.length >> 1;
  return values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/** σ_MAD of the first `count` values of `ring` (order does not matter). */
export function madSigma(ring: Float64Array, count: number): number {
  if (count === 0) return Number.NaN;
  const values = ring.slice(0, count);
  const median = medianInPlace(values);
  for (let i = 0; i < count; i++) values[i] = Math.abs(values[i]! - median);
  return medianInPlace(values) / MAD_TO_SIGMA;
}
