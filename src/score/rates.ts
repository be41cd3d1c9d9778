import { designEffect, clusterTotals, crossSum } from "./design-effect.ts";
import { emptyInterval, type Interval } from "./interval.ts";
import { twoSidedZ } from "./normal.ts";

export interface RateInterval extends Interval {
  /** Items (prompts) in the cell. */
  n: number;
  /** n ÷ the design effect: the number of independent items the clustered cell is worth. */
  nEffective: number;
}

/**
 * The mean of per-prompt outcomes in [0, 1] (harmful rate; win rate with ties as ½) with a Wilson score interval
 * (Wilson 1927, "Probable inference, the law of succession, and statistical inference", JASA 22(158)), the interval
 * Brown, Cai & DasGupta (2001, "Interval estimation for a binomial proportion", Stat. Sci. 16(2)) recommend at small n:
 * unlike the Wald or a bootstrap interval it does not collapse to [0, 0] when every outcome is 0 (0/3 → [0, 0.5615]).
 *
 * Successes are Σ value (fractional with ties) and n is replaced by the effective sample size n / deff, with Kish's
 * design effect deff = max(1, cluster-robust variance of the mean ÷ p(1−p)/n): the interval uses the larger of the
 * binomial variance and the clustered one. With one item per cluster deff is exactly 1, so a per-language cell gets
 * the plain Wilson interval. (Wilson at n/deff is the same as Wilson at n with z·√deff.)
 * Empty input → NaN estimate and bounds. `withinNoise` is always false: a rate is not a difference.
 */
export function rateInterval(items: readonly { cluster: string; value: number }[], level = 0.95): RateInterval {
  const z = twoSidedZ(level);
  const n = items.length;
  if (n === 0) return { ...emptyInterval, n: 0, nEffective: 0 };
  const p = items.reduce((sum, item) => sum + item.value, 0) / n;
  const totals = clusterTotals(items, items.map((item) => item.value - p));
  const deff = designEffect(totals.length, n, crossSum(totals, totals), n * p * (1 - p));
  const nEffective = n / deff;
  const { low, high } = wilson(p, nEffective, z);
  return { estimate: p, low, high, withinNoise: false, n, nEffective };
}

/** Wilson score interval for a proportion p observed over m (possibly fractional) trials. */
export function wilson(p: number, m: number, z: number): { low: number; high: number } {
  const z2m = (z * z) / m;
  const centre = (p + z2m / 2) / (1 + z2m);
  const half = (z / (1 + z2m)) * Math.sqrt((p * (1 - p)) / m + z2m / (4 * m));
  // At p = 0 (p = 1) the lower (upper) end is exactly 0 (1); say so rather than leave rounding of ±1e-17.
  return { low: p <= 0 ? 0 : Math.max(0, centre - half), high: p >= 1 ? 1 : Math.min(1, centre + half) };
}
