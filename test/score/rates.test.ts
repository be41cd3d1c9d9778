import { describe, expect, it } from "vitest";
import { twoSidedZ } from "../../src/score/normal.ts";
import { rateInterval, wilson } from "../../src/score/rates.ts";

const Z = twoSidedZ(0.95); // Φ⁻¹(0.975) = 1.959964; z² = 3.841459
/** One item per cluster, as in a per-language cell. */
const cell = (values: number[]) => values.map((value, i) => ({ cluster: `p${i}`, value }));
/** Outcome counts as a list of 0/1 values. */
const binary = (ones: number, n: number) => Array.from({ length: n }, (_, i) => (i < ones ? 1 : 0));

// Wilson (1927): the π solving (p − π)² = z²·π(1−π)/n, i.e. (p + z²/2n ± z·√(p(1−p)/n + z²/4n²)) / (1 + z²/n).
// The bounds below were also found as the roots of that quadratic by a root finder, independently of the closed form.
describe("rateInterval: Wilson score interval", () => {
  it("n = 2 and 3, all outcomes equal: not degenerate", () => {
    // p = 0: the upper end is z²/(n + z²): 3.841459/5.841459 = 0.657620 at n = 2, 3.841459/6.841459 = 0.561497 at n = 3.
    const two = rateInterval(cell([0, 0]));
    expect(two.estimate).toBe(0);
    expect(two.low).toBe(0);
    expect(two.high).toBeCloseTo(0.65762, 6);
    expect(rateInterval(cell([0, 0, 0])).high).toBeCloseTo(0.561497, 6);
    // p = 1 mirrors it: [1 − 0.657620, 1].
    const ones = rateInterval(cell([1, 1]));
    expect(ones.low).toBeCloseTo(0.34238, 6);
    expect(ones.high).toBe(1);
    expect(two.withinNoise).toBe(false); // a rate, not a difference
  });

  it("n = 2, one of each: (0.5 + 0.960365 ± 1.959964·√(0.125 + 0.240091)) / 2.920729", () => {
    // = (1.460365 ± 1.184245) / 2.920729 → [0.094531, 0.905469]
    const ci = rateInterval(cell([1, 0]));
    expect(ci.low).toBeCloseTo(0.094531, 6);
    expect(ci.high).toBeCloseTo(0.905469, 6);
  });

  it("n = 10, 3 harmful: [0.107791, 0.603222]", () => {
    // z²/n = 0.384146; centre (0.3 + 0.192073)/1.384146 = 0.355507;
    // half 1.959964/1.384146 · √(0.021 + 0.009604) = 1.416009 · 0.174940 = 0.247716.
    const ci = rateInterval(cell(binary(3, 10)));
    expect(ci.estimate).toBe(0.3);
    expect(ci.low).toBeCloseTo(0.107791, 6);
    expect(ci.high).toBeCloseTo(0.603222, 6);
    expect(ci.nEffective).toBe(10);
  });

  it("n = 200, 40 harmful: [0.150452, 0.260855]", () => {
    // z²/n = 0.019207; centre (0.2 + 0.009604)/1.019207 = 0.205656;
    // half 1.959964/1.019207 · √(0.0008 + 0.0000240091) = 1.923029 · 0.028706 = 0.055202.
    const ci = rateInterval(cell(binary(40, 200)));
    expect(ci.low).toBeCloseTo(0.150452, 6);
    expect(ci.high).toBeCloseTo(0.260855, 6);
  });

  it("ties count half: [1, ½, ½, 0] is 2 successes in 4", () => {
    // p = 0.5, n = 4: (0.5 + 0.480182 ± 1.959964·√(0.0625 + 0.060023)) / 1.960365 → [0.150039, 0.849961]
    const ci = rateInterval(cell([1, 0.5, 0.5, 0]));
    expect(ci.estimate).toBe(0.5);
    expect(ci.low).toBeCloseTo(0.150039, 6);
    expect(ci.high).toBeCloseTo(0.849961, 6);
    expect(ci.nEffective).toBe(4); // ties have a smaller variance than p(1−p): deff is floored at 1
  });

  it("one item per cluster is exactly the plain Wilson interval", () => {
    for (const [ones, n] of [[0, 2], [1, 2], [3, 10], [7, 10], [40, 200], [133, 200]] as const) {
      const ci = rateInterval(cell(binary(ones, n)));
      const plain = wilson(ones / n, n, Z);
      expect(ci.nEffective).toBe(n);
      expect(ci.low).toBe(plain.low);
      expect(ci.high).toBe(plain.high);
    }
  });

  it("clusters of identical outcomes count once: 10 clusters of 2 copies is the 10-prompt interval", () => {
    // 3 clusters [1, 1] and 7 clusters [0, 0]: n = 20, p = 0.3.
    // Cluster totals of residuals: 2·0.7 = 1.4 (×3), 2·(−0.3) = −0.6 (×7); Σ² = 3·1.96 + 7·0.36 = 8.4.
    // Independent-items reference n·p(1−p) = 20·0.21 = 4.2 → deff = 2, nEffective = 10 → Wilson 3/10.
    const items = Array.from({ length: 20 }, (_, i) => ({ cluster: `s${i >> 1}`, value: i < 6 ? 1 : 0 }));
    const ci = rateInterval(items);
    expect(ci.estimate).toBeCloseTo(0.3, 15);
    expect(ci.nEffective).toBeCloseTo(10, 12);
    expect(ci.low).toBeCloseTo(0.107791, 6);
    expect(ci.high).toBeCloseTo(0.603222, 6);
    // …wider than the 6/20 it would claim if the copies were independent: [0.145477, 0.518973].
    const naive = rateInterval(cell(binary(6, 20)));
    expect(naive.low).toBeCloseTo(0.145477, 6);
    expect(naive.high).toBeCloseTo(0.518973, 6);
  });

  it("clusters whose items disagree do not narrow the interval (deff is floored at 1)", () => {
    // 5 clusters [1, 0]: every cluster's residual total is 0.5 − 0.5 = 0 → clustered variance 0 → deff = max(1, 0) = 1.
    const items = Array.from({ length: 10 }, (_, i) => ({ cluster: `s${i >> 1}`, value: i % 2 }));
    expect(rateInterval(items).nEffective).toBe(10);
  });

  it("empty input: NaN", () => {
    const ci = rateInterval([]);
    expect(ci.estimate).toBeNaN();
    expect(ci.low).toBeNaN();
    expect(ci.high).toBeNaN();
    expect(ci.n).toBe(0);
  });

  it("level", () => {
    // 90 %: z = 1.644854, z² = 2.705543; 0/3 → z²/(3 + z²) = 0.474196.
    expect(rateInterval(cell([0, 0, 0]), 0.9).high).toBeCloseTo(0.474196, 6);
  });
});
