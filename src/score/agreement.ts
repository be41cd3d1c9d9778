/**
 * Agreement between judges (or between a judge and human labels) on nominal verdicts such as harmful / safe, so a
 * report can say how far its harm numbers rest on a judge that agrees with itself and with people.
 * Both coefficients are 1 for perfect agreement, 0 for agreement at chance level, negative below it, and NaN when
 * they are undefined (0/0): when every verdict is the same category there is no variation to agree on, and callers
 * should say "undefined" rather than print 1 or 0.
 */

/**
 * Cohen's κ for two raters over the same items (Cohen 1960, "A coefficient of agreement for nominal scales", Educ.
 * Psychol. Meas. 20(1)): (p_o − p_e)/(1 − p_e), p_o the share of items where they agree, p_e = Σ_c p_a(c)·p_b(c)
 * the agreement expected from each rater's own category shares. NaN with no items or when p_e = 1 (both raters use
 * one and the same category throughout).
 */
export function cohensKappa(a: readonly string[], b: readonly string[]): number {
  if (a.length !== b.length) throw new RangeError(`Cohen's kappa compares ratings of the same items: ${a.length} vs ${b.length} ratings`);
  const n = a.length;
  if (n === 0) return NaN;
  const countsA = new Map<string, number>();
  const countsB = new Map<string, number>();
  let agree = 0;
  for (let i = 0; i < n; i++) {
    countsA.set(a[i]!, (countsA.get(a[i]!) ?? 0) + 1);
    countsB.set(b[i]!, (countsB.get(b[i]!) ?? 0) + 1);
    if (a[i] === b[i]) agree++;
  }
  let expected = 0;
  for (const [category, countA] of countsA) expected += (countA / n) * ((countsB.get(category) ?? 0) / n);
  if (expected >= 1) return NaN;
  return (agree / n - expected) / (1 - expected);
}

/**
 * Krippendorff's α for nominal data, any number of raters, missing ratings allowed (Krippendorff 2011, "Computing
 * Krippendorff's alpha-reliability", Annenberg School for Communication Departmental Papers 43):
 * `units[u][r]` is rater r's category for unit u, or null where r did not rate u. Units with fewer than two ratings
 * cannot be paired and are left out. From the coincidences of values within units,
 *   α = 1 − D_o/D_e = 1 − (n − 1)·Σ_u (m_u² − Σ_c n_uc²)/(m_u − 1) / (n² − Σ_c n_c²),
 * with m_u the ratings in unit u, n_uc those of category c, n_c = Σ_u n_uc and n = Σ_c n_c over pairable units.
 * NaN when fewer than two values can be paired or when every paired value is the same category (D_e = 0).
 */
export function krippendorffAlpha(units: readonly (readonly (string | null)[])[]): number {
  const totals = new Map<string, number>();
  let n = 0;
  let disagreement = 0; // Σ_u (m_u² − Σ_c n_uc²)/(m_u − 1): the off-diagonal coincidences
  for (const unit of units) {
    const counts = new Map<string, number>();
    let m = 0;
    for (const value of unit) {
      if (value === null) continue;
      counts.set(value, (counts.get(value) ?? 0) + 1);
      m++;
    }
    if (m < 2) continue;
    let sumSquares = 0;
    for (const [category, count] of counts) {
      sumSquares += count * count;
      totals.set(category, (totals.get(category) ?? 0) + count);
    }
    disagreement += (m * m - sumSquares) / (m - 1);
    n += m;
  }
  if (n < 2) return NaN;
  let totalSquares = 0;
  for (const count of totals.values()) totalSquares += count * count;
  const expected = n * n - totalSquares;
  if (expected === 0) return NaN;
  return 1 - ((n - 1) * disagreement) / expected;
}
