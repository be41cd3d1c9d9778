/**
 * Adjusting p-values for the many comparisons in one report (languages × models × metrics), so that a gate does not
 * pass or fail on the one cell in twenty that is "significant" by chance. Both return adjusted values in the input
 * order; p-values that are not numbers (NaN) stay NaN and do not count towards the number of tests, as in R's p.adjust.
 */

/**
 * Holm's step-down adjustment (Holm 1979, "A simple sequentially rejective multiple test procedure", Scand. J. Stat.
 * 6(2)): sorted ascending, p_(i) becomes max_{j ≤ i} min(1, (m − j + 1)·p_(j)). Controls the family-wise error rate
 * (the chance of any false positive) under any dependence, and is never less powerful than Bonferroni.
 */
export function holm(pValues: readonly number[]): number[] {
  const order = ranked(pValues);
  const m = order.length;
  const adjusted = pValues.map(() => NaN);
  let running = 0;
  order.forEach((index, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[index]!));
    adjusted[index] = running;
  });
  return adjusted;
}

/**
 * Benjamini–Hochberg q-values (Benjamini & Hochberg 1995, "Controlling the false discovery rate: a practical and
 * powerful approach to multiple testing", J. R. Stat. Soc. B 57(1)): sorted ascending, p_(i) becomes
 * min_{j ≥ i} min(1, m·p_(j)/j). Controls the expected share of false positives among the cells called significant
 * (for independent or positively dependent tests).
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const order = ranked(pValues);
  const m = order.length;
  const adjusted = pValues.map(() => NaN);
  let running = 1;
  for (let rank = m - 1; rank >= 0; rank--) {
    const index = order[rank]!;
    running = Math.min(running, (m * pValues[index]!) / (rank + 1));
    adjusted[index] = running;
  }
  return adjusted;
}

/** Indices of the p-values that are numbers, smallest p first (ties keep input order). */
function ranked(pValues: readonly number[]): number[] {
  return pValues
    .map((p, index) => ({ p, index }))
    .filter(({ p }) => !Number.isNaN(p))
    .sort((x, y) => x.p - y.p || x.index - y.index)
    .map(({ index }) => index);
}
