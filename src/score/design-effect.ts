/**
 * Kish's design effect (Kish 1965, "Survey Sampling", Wiley): how much clustering inflates the variance of a mean
 * over what independent items would give. Here items sharing a `cluster` (the translations of one source prompt)
 * are correlated; the clustered variance is the cluster-robust (sandwich) estimator of a mean's variance,
 * Σ_g (Σ_{i∈g} r_i)² / n² over residuals r_i (Liang & Zeger 1986, "Longitudinal data analysis using generalized
 * linear models", Biometrika 73(1)), taken without a small-sample factor so that it equals the independent-items
 * estimator Σ r_i² / n² exactly when every cluster has one item.
 */

/** Per-cluster totals of `residuals` (index-aligned with `items`), in order of first appearance. */
export function clusterTotals(items: readonly { cluster: string }[], residuals: readonly number[]): number[] {
  const totals = new Map<string, number>();
  items.forEach((item, i) => totals.set(item.cluster, (totals.get(item.cluster) ?? 0) + residuals[i]!));
  return [...totals.values()];
}

/** Σ x_g·y_g over two index-aligned series of cluster totals (a sum of squares when both are the same). */
export function crossSum(x: readonly number[], y: readonly number[]): number {
  let sum = 0;
  for (let g = 0; g < x.length; g++) sum += x[g]! * y[g]!;
  return sum;
}

/**
 * max(1, clustered ÷ reference), both as n² × a variance: `clusteredSS` = Σ_g (cluster total of residuals)²,
 * `referenceSS` = the variance the interval would use for independent items (× n²).
 * Exactly 1 when every cluster holds one item (a per-language cell), whatever rounding would do; 1 when the
 * reference variance is 0 (nothing varies, so there is nothing to inflate). With a single cluster the clustered
 * sum is 0 (the residuals sum to 0) and this falls back to 1: one cluster carries no between-cluster information.
 * Never below 1: clustering is not allowed to narrow an interval below the independent-items one.
 */
export function designEffect(clusterCount: number, itemCount: number, clusteredSS: number, referenceSS: number): number {
  if (clusterCount >= itemCount) return 1;
  if (!(referenceSS > 0) || !Number.isFinite(clusteredSS)) return 1;
  return Math.max(1, clusteredSS / referenceSS);
}
