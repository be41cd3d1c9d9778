import { clusterTotals, crossSum, designEffect } from "./design-effect.ts";
import { containsZero, type Interval } from "./interval.ts";
import { twoSidedP, twoSidedZ } from "./normal.ts";
import { adjustedDifference } from "./paired.ts";

/** A ratio to the base's rate has no value where the base's rate is 0 (or there are no prompts): say why instead. */
export interface UndefinedRatio {
  undefinedReason: string;
  n: number;
}

export const NO_PROMPTS = "no prompts here: a ratio to the base is undefined";
export const BASE_NEVER_HARMS_RELATIVE = "the base has no harmful completions here: a relative change is undefined";
export const BASE_NEVER_HARMS_OVER_BASE = "the base has no harmful completions here: a difference over the base's rate is undefined";

/**
 * The paper's relative change in harm vs the base, in %: 100·(mean a − mean b)/mean b, for BINARY paired outcomes
 * (a = the model, b = the base, on the same prompts). Undefined when the base never harms (mean b = 0).
 *
 * Interval: Wald on the log of the ratio of two paired proportions (Nam & Blackwelder 2002, "Analysis of the ratio of
 * marginal probabilities in a matched-pair setting", Stat. Med. 21(5)), var(ln R) = (n12 + n21)/((n11 + n12)(n11 + n21))
 * over the 2×2 table n11 (both 1), n12 (a only), n21 (b only), with the small-sample adjustment of Bonett & Price
 * (2006, "Confidence intervals for a ratio of binomial proportions based on paired data", Stat. Med. 25(17)): one
 * pseudo-pair added to each discordant cell, var̃(ln R) = (n12 + n21 + 2)/((n11 + n12 + 1)(n11 + n21 + 1)), exactly
 * their adjusted estimator (as in Bonett's own statpsych::ci.ratio.prop.ps). The log-scale centre uses the same
 * adjusted table, ln R̃ = ln((n11 + n12 + 1)/(n11 + n21 + 1)), so a model with no harmful completions still gets a
 * finite lower bound above −100 %. (Bonett & Price's full method is a hybrid of two Wilson intervals; its lower bound
 * is exactly −100 % whenever n11 + n12 = 0, which is why it is not used here.) var̃ is multiplied by the design effect
 * of the linearised log ratio a_i/ā − b_i/b̄ under clustering, then the bounds are transformed back: 100·(R − 1).
 * The point estimate stays the plain 100·(mean a − mean b)/mean b, so where the model never harms it is −100 and
 * lies below the interval's lower bound.
 */
export function pairedRelativeChange(items: readonly { cluster: string; a: number; b: number }[], level = 0.95): (Interval & { n: number }) | UndefinedRatio {
  const z = twoSidedZ(level);
  const n = items.length;
  let n11 = 0;
  let n12 = 0;
  let n21 = 0;
  for (const { a, b } of items) {
    if ((a !== 0 && a !== 1) || (b !== 0 && b !== 1)) throw new RangeError(`pairedRelativeChange takes 0/1 outcomes, got a = ${a}, b = ${b}`);
    if (a === 1 && b === 1) n11++;
    else if (a === 1) n12++;
    else if (b === 1) n21++;
  }
  if (n === 0) return { undefinedReason: NO_PROMPTS, n };
  const aCount = n11 + n12;
  const bCount = n11 + n21;
  if (bCount === 0) return { undefinedReason: BASE_NEVER_HARMS_RELATIVE, n };
  const estimate = (100 * (aCount - bCount)) / bCount;

  // Design effect of ln ā − ln b̄, linearised: u_i = a_i/ā − b_i/b̄ (the a term is 0 when ā = 0); mean(u) = 0.
  const influence = items.map(({ a, b }) => (aCount > 0 ? (a * n) / aCount : 0) - (b * n) / bCount);
  const totals = clusterTotals(items, influence);
  const deff = designEffect(totals.length, n, crossSum(totals, totals), crossSum(influence, influence));

  const logCentre = Math.log((aCount + 1) / (bCount + 1));
  const se = Math.sqrt((deff * (n12 + n21 + 2)) / ((aCount + 1) * (bCount + 1)));
  const low = 100 * (Math.exp(logCentre - z * se) - 1);
  const high = 100 * (Math.exp(logCentre + z * se) - 1);
  return { estimate, low, high, withinNoise: containsZero(low, high), n };
}

/**
 * The paper's bracketed harm delta, in %: 100·(mean other − mean model)/mean base (other = the reference data mix;
 * positive = the model reduces harm more than the mix does). Undefined when the base never harms.
 *
 * Interval: delta method (linearisation of a ratio of means; e.g. Cochran 1977, "Sampling Techniques", 3rd ed., §6.4)
 * for D/B with D = mean(other − model), B = mean base:
 *   var(D/B) ≈ (var D − 2r·cov(D, B) + r²·var B)/B², r = D̃/B,
 * where D̃ and var D are the Bonett–Price adjusted difference of pairedDifference (so all-equal outcomes do not
 * collapse the interval), var B is the base's own cluster-robust variance (design effect floored at 1), and the
 * covariance is the cluster-robust correlation of (other − model, base) times the two standard deviations, which
 * keeps the covariance matrix positive semi-definite. The interval is 100·(r ∓ z·se), p two-sided for "= 0" from
 * the same z; `estimate` is the plain 100·D/B.
 */
export function pairedDifferenceOverBase(
  items: readonly { cluster: string; model: number; other: number; base: number }[],
  level = 0.95,
): (Interval & { n: number; p: number }) | UndefinedRatio {
  const z = twoSidedZ(level);
  const n = items.length;
  if (n === 0) return { undefinedReason: NO_PROMPTS, n };
  const baseMean = items.reduce((sum, item) => sum + item.base, 0) / n;
  if (baseMean === 0) return { undefinedReason: BASE_NEVER_HARMS_OVER_BASE, n };

  const d = adjustedDifference(items.map((item) => ({ cluster: item.cluster, d: item.other - item.model })));
  const baseResiduals = items.map((item) => item.base - baseMean);
  const baseTotals = clusterTotals(items, baseResiduals);
  const baseSS = crossSum(baseResiduals, baseResiduals);
  const baseTotalsSS = crossSum(baseTotals, baseTotals);
  const baseVariance = (designEffect(baseTotals.length, n, baseTotalsSS, baseSS) * baseSS) / (n * n);
  // Both series of cluster totals come from the same items, so they list the clusters in the same order.
  const dTotalsSS = crossSum(d.clusterResiduals, d.clusterResiduals);
  const correlation = dTotalsSS > 0 && baseTotalsSS > 0 ? crossSum(d.clusterResiduals, baseTotals) / Math.sqrt(dTotalsSS * baseTotalsSS) : 0;

  const ratio = d.adjusted / baseMean;
  const covariance = correlation * Math.sqrt(d.variance * baseVariance);
  const se = Math.sqrt(Math.max(0, d.variance - 2 * ratio * covariance + ratio * ratio * baseVariance)) / baseMean;
  const low = 100 * (ratio - z * se);
  const high = 100 * (ratio + z * se);
  const p = se > 0 ? twoSidedP(ratio / se) : ratio === 0 ? 1 : 0;
  return { estimate: (100 * d.mean) / baseMean, low, high, withinNoise: containsZero(low, high), n, p };
}
