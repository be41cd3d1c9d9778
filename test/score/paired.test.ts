import { describe, expect, it } from "vitest";
import { pairedDifference } from "../../src/score/paired.ts";
import { twoSidedZ } from "../../src/score/normal.ts";

const Z = twoSidedZ(0.95); // 1.959964
/** One pair per cluster (a per-language cell), from the differences' two sides. */
const pairs = (a: number[], b: number[], cluster = (i: number) => `p${i}`) => a.map((ai, i) => ({ cluster: cluster(i), a: ai, b: b[i]! }));
/** A paired 0/1 table as pairs: n11 both 1, n12 a only, n21 b only, n22 neither. */
const table = (n11: number, n12: number, n21: number, n22: number) =>
  pairs([...Array<number>(n11 + n12).fill(1), ...Array<number>(n21 + n22).fill(0)], [...Array<number>(n11).fill(1), ...Array<number>(n12).fill(0), ...Array<number>(n21).fill(1), ...Array<number>(n22).fill(0)]);

/** Bonett & Price (2012) written from the 2×2 table, as in their paper. */
function bonettPrice(n12: number, n21: number, n: number) {
  const p12 = (n12 + 1) / (n + 2);
  const p21 = (n21 + 1) / (n + 2);
  const se = Math.sqrt((p12 + p21 - (p12 - p21) ** 2) / (n + 2));
  return { centre: p12 - p21, se, low: Math.max(-1, p12 - p21 - Z * se), high: Math.min(1, p12 - p21 + Z * se) };
}

describe("pairedDifference: Bonett–Price adjusted Wald", () => {
  it("n = 2, identical outcomes: ±0.69, not [0, 0]", () => {
    // Σd = 0, Σd² = 0: d̃ = 0, m̃2 = 2/4 = 0.5, var = 0.5/4 = 0.125, se = 0.353553; 1.959964·0.353553 = 0.692952.
    const ci = pairedDifference(pairs([1, 0], [1, 0]));
    expect(ci.estimate).toBe(0);
    expect(ci.low).toBeCloseTo(-0.692952, 6);
    expect(ci.high).toBeCloseTo(0.692952, 6);
    expect(ci.se).toBeCloseTo(0.353553, 6);
    expect(ci.p).toBe(1);
    expect(ci.withinNoise).toBe(true);
  });

  it("n = 2, both pairs a = 1, b = 0: clipped at 1", () => {
    // Σd = 2, Σd² = 2: d̃ = 2/4 = 0.5, m̃2 = 4/4 = 1, var = (1 − 0.25)/4 = 0.1875, se = 0.433013;
    // 0.5 ± 0.848689 → [−0.348689, 1.348689] → high clipped to 1. p = 2Φ(−0.5/0.433013) = 0.248213.
    const ci = pairedDifference(pairs([1, 1], [0, 0]));
    expect(ci.estimate).toBe(1);
    expect(ci.low).toBeCloseTo(-0.348689, 6);
    expect(ci.high).toBe(1);
    expect(ci.p).toBeCloseTo(0.248213, 6);
  });

  it("n = 10, binary: the model harms on 1 prompt, the mix on 4 (n11 = 1, n12 = 0, n21 = 3, n22 = 6)", () => {
    // Σd = 0 − 3 = −3, Σd² = 3: d̃ = −3/12 = −0.25, m̃2 = 5/12 = 0.416667, var = (0.416667 − 0.0625)/12 = 0.029514,
    // se = 0.171796; −0.25 ± 0.336714 → [−0.586714, 0.086714]; p = 2Φ(−0.25/0.171796) = 2Φ(−1.455214) = 0.145610.
    const ci = pairedDifference(table(1, 0, 3, 6));
    expect(ci.estimate).toBeCloseTo(-0.3, 15);
    expect(ci.low).toBeCloseTo(-0.586714, 6);
    expect(ci.high).toBeCloseTo(0.086714, 6);
    expect(ci.p).toBeCloseTo(0.14561, 6);
    expect(ci.withinNoise).toBe(true);
  });

  it("n = 10, preferences with ties generalise through Σd and Σd²", () => {
    // d = [½, ½, 1, 0, −½, ½, 0, 1, ½, 0]: Σd = 3.5, Σd² = 5·¼ + 2·1 = 3.25.
    // d̃ = 3.5/12 = 0.291667, m̃2 = 5.25/12 = 0.4375, var = (0.4375 − 0.085069)/12 = 0.029369, se = 0.171374;
    // 0.291667 ± 0.335888 → [−0.044221, 0.627554]; estimate Σd/n = 0.35.
    const d = [0.5, 0.5, 1, 0, -0.5, 0.5, 0, 1, 0.5, 0];
    const ci = pairedDifference(pairs(d.map((x) => (x >= 0 ? x : 0)), d.map((x) => (x >= 0 ? 0 : -x))));
    expect(ci.estimate).toBeCloseTo(0.35, 15);
    expect(ci.se).toBeCloseTo(0.171374, 6);
    expect(ci.low).toBeCloseTo(-0.044221, 6);
    expect(ci.high).toBeCloseTo(0.627554, 6);
    expect(ci.p).toBeCloseTo(0.088769, 6);
    // Only the differences matter: the same d from other (a, b), here (½ + d/2, ½ − d/2), gives the same interval.
    const other = pairedDifference(pairs(d.map((x) => 0.5 + x / 2), d.map((x) => 0.5 - x / 2)));
    expect(other.low).toBeCloseTo(ci.low, 15);
    expect(other.high).toBeCloseTo(ci.high, 15);
  });

  it("n = 200, binary: n11 = 20, n12 = 30, n21 = 10, n22 = 140", () => {
    // Σd = 20, Σd² = 40: d̃ = 20/202 = 0.099010, m̃2 = 42/202 = 0.207921, var = (0.207921 − 0.009803)/202 = 0.000980783,
    // se = 0.031317; 0.099010 ± 0.061381 → [0.037629, 0.160391]; p = 2Φ(−3.161520) = 0.001570.
    const ci = pairedDifference(table(20, 30, 10, 140));
    expect(ci.estimate).toBeCloseTo(0.1, 15);
    expect(ci.low).toBeCloseTo(0.037629, 6);
    expect(ci.high).toBeCloseTo(0.160391, 6);
    expect(ci.p).toBeCloseTo(0.00157, 6);
    expect(ci.withinNoise).toBe(false);
  });

  it("is exactly Bonett–Price for every binary table (including Bentur et al.'s n12 = 1, n21 = 7, n = 21)", () => {
    // Bentur: p̃12 = 2/23, p̃21 = 8/23, d̃ = −6/23 = −0.260870, var = (10/23 − 36/529)/23 = 0.015945, se = 0.126273
    // → [−0.508359, −0.013380].
    const bentur = pairedDifference(table(2, 1, 7, 11));
    expect(bentur.low).toBeCloseTo(-0.508359, 6);
    expect(bentur.high).toBeCloseTo(-0.01338, 6);
    for (const [n11, n12, n21, n22] of [[0, 0, 0, 2], [2, 0, 0, 0], [0, 2, 0, 0], [3, 1, 4, 2], [0, 5, 0, 5], [50, 7, 19, 124]] as const) {
      const ci = pairedDifference(table(n11, n12, n21, n22));
      const bp = bonettPrice(n12, n21, n11 + n12 + n21 + n22);
      expect(ci.se).toBeCloseTo(bp.se, 14);
      expect(ci.low).toBeCloseTo(bp.low, 14);
      expect(ci.high).toBeCloseTo(bp.high, 14);
    }
  });

  it("clustering: each pair seen in 2 languages with the same outcome doubles the variance (deff = 2)", () => {
    // The n = 10 binary table above, every prompt translated twice with identical outcomes: n = 20, Σd = −6, Σd² = 6.
    // d̃ = −6/22 = −0.272727, m̃2 = 8/22 = 0.363636, var(independent) = (0.363636 − 0.074380)/22 = 0.013148.
    // Cluster totals are 2·r_i, so Σ_g(2r)² = 4Σr² = 2 × the item-level Σr² → deff = 2: var = 0.026296, se = 0.162160.
    // Independent: se 0.114665, [−0.497466, −0.047988] (excludes 0). Clustered: [−0.590556, 0.045101] (includes 0).
    const d = [-1, -1, -1, 0, 0, 0, 0, 0, 0, 0];
    const doubled = [...d, ...d];
    const a = doubled.map(() => 0);
    const b = doubled.map((x) => -x);
    const independent = pairedDifference(pairs(a, b));
    const clustered = pairedDifference(pairs(a, b, (i) => `s${i % 10}`));
    expect(independent.se).toBeCloseTo(0.114665, 6);
    expect(independent.withinNoise).toBe(false);
    expect(clustered.se).toBeCloseTo(0.16216, 6);
    expect(clustered.low).toBeCloseTo(-0.590556, 6);
    expect(clustered.high).toBeCloseTo(0.045101, 6);
    expect(clustered.withinNoise).toBe(true);
  });

  it("p and the interval agree: 0 inside ⇔ p ≥ 1 − level", () => {
    for (const [n11, n12, n21, n22] of [[1, 0, 3, 6], [20, 30, 10, 140], [0, 6, 0, 4], [5, 9, 1, 5], [0, 4, 0, 0]] as const) {
      for (const level of [0.9, 0.95, 0.99]) {
        const ci = pairedDifference(table(n11, n12, n21, n22), level);
        expect(ci.withinNoise).toBe(ci.p >= 1 - level);
      }
    }
  });

  it("no pairs: NaN and p = 1", () => {
    const ci = pairedDifference([]);
    expect([ci.estimate, ci.low, ci.high, ci.se]).toEqual([NaN, NaN, NaN, NaN]);
    expect(ci.p).toBe(1);
    expect(ci.n).toBe(0);
    expect(ci.withinNoise).toBe(false);
  });
});
