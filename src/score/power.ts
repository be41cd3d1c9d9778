import { normalQuantile } from "./normal.ts";

/**
 * How small a difference a study of this size can expect to detect: the minimum detectable difference of a two-sided
 * z-test, (z_{1−α/2} + z_{power})·sd/√n (e.g. Cohen 1988, "Statistical Power Analysis for the Behavioral Sciences",
 * 2nd ed.; the normal-approximation sample-size formula). `sd` is the standard deviation of one per-prompt value (for
 * a paired difference, of a − b); α = 0.05 and power 0.8 give the factor 1.959964 + 0.841621 = 2.801585.
 */
export function minimumDetectableDifference(sd: number, n: number, options: { alpha?: number; power?: number } = {}): number {
  const { alpha = 0.05, power = 0.8 } = options;
  if (!(alpha > 0 && alpha < 1) || !(power > 0 && power < 1)) throw new RangeError(`alpha and power are between 0 and 1 (exclusive), not ${alpha} and ${power}`);
  if (!(n > 0)) return NaN;
  return ((normalQuantile(1 - alpha / 2) + normalQuantile(power)) * sd) / Math.sqrt(n);
}

/**
 * How many prompts an interval of half-width `halfWidth` at `n` prompts needs to shrink to half-width `margin`, since
 * a half-width falls as 1/√n: ⌈n·(halfWidth/margin)²⌉. Infinity when margin ≤ 0 (no n resolves a zero margin); below
 * n when the interval is already narrower than the margin. NaN for NaN inputs.
 */
export function promptsToResolve(n: number, halfWidth: number, margin: number): number {
  if (Number.isNaN(n) || Number.isNaN(halfWidth) || Number.isNaN(margin)) return NaN;
  if (margin <= 0) return Infinity;
  const needed = n * (halfWidth / margin) ** 2;
  // Rounding can leave an exact answer a hair above an integer (4.000000000000001 → 5); shave that off first.
  return Math.ceil(needed * (1 - 1e-12));
}
