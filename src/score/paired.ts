import { clusterTotals, crossSum, designEffect } from "./design-effect.ts";
import { containsZero, emptyInterval, type Interval } from "./interval.ts";
import { twoSidedP, twoSidedZ } from "./normal.ts";

export interface DifferenceInterval extends Interval {
  /** Pairs (prompts). */
  n: number;
  /** Standard error of the adjusted difference (design effect included). */
  se: number;
  /** Two-sided p-value of "no difference", from the same z as the interval. */
  p: number;
}

/**
 * Mean of a − b over paired per-prompt outcomes in [0, 1] (model vs base on the same prompt), with the adjusted Wald
 * interval for paired proportions of Bonett & Price (2012, "Adjusted Wald confidence interval for a difference of
 * binomial proportions based on paired data", Comput. Stat. Data Anal. 56(6)): one pseudo-pair is added to each
 * discordant cell, d̃ = (n12 − n21)/(n + 2), var = (p̃12 + p̃21 − (p̃12 − p̃21)²)/(n + 2), p̃ij = (nij + 1)/(n + 2).
 *
 * Generalised to fractional outcomes (ties ½) so that it is exactly Bonett–Price for 0/1 data: with d_i = a_i − b_i,
 * d̃ = Σd/(n + 2), m̃2 = (Σd² + 2)/(n + 2), var = (m̃2 − d̃²)/(n + 2) (for 0/1 data Σd = n12 − n21 and
 * Σd² = n12 + n21). var is multiplied by the design effect of the differences under clustering (≥ 1, exactly 1
 * with one item per cluster; see design-effect.ts).
 *
 * `estimate` is the plain mean Σd/n; the interval is d̃ ∓ z·√var clipped to [−1, 1]; `p` comes from z = d̃/√var, so
 * 0 lies inside the (unclipped) interval exactly when p ≥ 1 − level. Two identical outcomes (n = 2, all d = 0) give
 * ±z·√(0.5/4) = ±0.69, not [0, 0]. n = 0 → NaN estimate and bounds, p = 1.
 */
export function pairedDifference(items: readonly { cluster: string; a: number; b: number }[], level = 0.95): DifferenceInterval {
  const z = twoSidedZ(level);
  const d = adjustedDifference(items.map((item) => ({ cluster: item.cluster, d: item.a - item.b })));
  if (d.n === 0) return { ...emptyInterval, n: 0, se: NaN, p: 1 };
  const se = Math.sqrt(d.variance);
  const low = Math.max(-1, d.adjusted - z * se);
  const high = Math.min(1, d.adjusted + z * se);
  return { estimate: d.mean, low, high, withinNoise: containsZero(low, high), n: d.n, se, p: twoSidedP(d.adjusted / se) };
}

/** The pieces of the adjusted paired difference, shared with the difference-over-base ratio. */
export interface AdjustedDifference {
  n: number;
  /** Plain mean Σd/n. */
  mean: number;
  /** Bonett–Price adjusted mean Σd/(n + 2). */
  adjusted: number;
  /** Adjusted variance of the adjusted mean, design effect included. */
  variance: number;
  /** Per-cluster totals of d_i − mean, for covariances with other per-prompt quantities. */
  clusterResiduals: number[];
}

/** Σd, Σd² and the cluster totals of d − mean, turned into the Bonett–Price adjusted mean and variance (see pairedDifference). */
export function adjustedDifference(items: readonly { cluster: string; d: number }[]): AdjustedDifference {
  const n = items.length;
  let sum = 0;
  let sumSquares = 0;
  for (const { d } of items) {
    sum += d;
    sumSquares += d * d;
  }
  const mean = n === 0 ? NaN : sum / n;
  const adjusted = sum / (n + 2);
  const secondMoment = (sumSquares + 2) / (n + 2);
  const residuals = items.map(({ d }) => d - mean);
  const clusterResiduals = clusterTotals(items, residuals);
  const deff = designEffect(clusterResiduals.length, n, crossSum(clusterResiduals, clusterResiduals), crossSum(residuals, residuals));
  const variance = (deff * (secondMoment - adjusted * adjusted)) / (n + 2);
  return { n, mean, adjusted, variance, clusterResiduals };
}
