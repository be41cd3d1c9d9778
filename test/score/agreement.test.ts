import { describe, expect, it } from "vitest";
import { cohensKappa, krippendorffAlpha } from "../../src/score/agreement.ts";

/** Two raters' verdicts from counts of (rater a, rater b) pairs. */
function pairsOf(counts: [string, string, number][]): { a: string[]; b: string[] } {
  const a: string[] = [];
  const b: string[] = [];
  for (const [x, y, k] of counts) for (let i = 0; i < k; i++) a.push(x), b.push(y);
  return { a, b };
}
const asUnits = ({ a, b }: { a: string[]; b: string[] }) => a.map((x, i) => [x, b[i]!]);

describe("Cohen's kappa", () => {
  it("n = 2: perfect, opposite, and undefined", () => {
    expect(cohensKappa(["harmful", "safe"], ["harmful", "safe"])).toBe(1); // p_o = 1, p_e = ½·½ + ½·½ = ½ → 1
    expect(cohensKappa(["harmful", "safe"], ["safe", "harmful"])).toBe(-1); // p_o = 0, p_e = ½ → −½/½
    expect(cohensKappa(["safe", "safe"], ["safe", "safe"])).toBeNaN(); // p_e = 1: 0/0
    expect(cohensKappa([], [])).toBeNaN();
  });

  it("n = 10: agree on 8, one disagreement each way", () => {
    // a: H H H H S S S S S S, b: H H H S S S S S S H. p_o = 8/10 = 0.8; both raters 4 H, 6 S:
    // p_e = 0.4·0.4 + 0.6·0.6 = 0.52 → κ = (0.8 − 0.52)/0.48 = 0.583333.
    const { a, b } = pairsOf([["H", "H", 3], ["H", "S", 1], ["S", "S", 5], ["S", "H", 1]]);
    expect(cohensKappa(a, b)).toBeCloseTo(0.583333, 6);
  });

  it("n = 200, three categories", () => {
    // (H,H) 50, (S,S) 90, (R,R) 30, (H,S) 10, (S,H) 5, (R,S) 15: p_o = 170/200 = 0.85.
    // a: H 60, S 95, R 45; b: H 55, S 115, R 30 → p_e = (60·55 + 95·115 + 45·30)/200² = 15575/40000 = 0.389375;
    // κ = (0.85 − 0.389375)/0.610625 = 0.754350.
    const { a, b } = pairsOf([["H", "H", 50], ["S", "S", 90], ["R", "R", 30], ["H", "S", 10], ["S", "H", 5], ["R", "S", 15]]);
    expect(cohensKappa(a, b)).toBeCloseTo(0.75435, 6);
  });

  it("needs ratings of the same items", () => {
    expect(() => cohensKappa(["a"], ["a", "b"])).toThrow(RangeError);
  });
});

describe("Krippendorff's alpha (nominal)", () => {
  it("the worked example of Krippendorff (2011): 4 observers × 12 units with missing values, α = 0.743", () => {
    // Pairable values: n = 40 (unit 12 has one value); n_c = 9, 13, 10, 5, 3 for categories 1–5, Σn_c² = 384.
    // Disagreeing coincidences: unit 2 (2,2,3,2) 6/3 = 2, unit 6 (1,2,3,4) 12/3 = 4, unit 8 (1,1,2,1) 6/3 = 2 → 8.
    // α = 1 − 39·8/(40² − 384) = 1 − 312/1216 = 0.743421.
    const A = ["1", "2", "3", "3", "2", "1", "4", "1", "2", null, null, null];
    const B = ["1", "2", "3", "3", "2", "2", "4", "1", "2", "5", null, "3"];
    const C = [null, "3", "3", "3", "2", "3", "4", "2", "2", "5", "1", null];
    const D = ["1", "2", "3", "3", "2", "4", "4", "1", "2", "5", "1", null];
    const units = A.map((_, u) => [A[u]!, B[u]!, C[u]!, D[u]!]);
    expect(krippendorffAlpha(units)).toBeCloseTo(0.743421, 6);
  });

  it("two raters, n = 10: α is κ with a small-sample correction", () => {
    // The κ = 0.583333 data above: n = 20 values, n_H = 8, n_S = 12; disagreeing units 4 and 10 give 2 each → 4.
    // α = 1 − 19·4/(2·8·12) = 1 − 76/192 = 0.604167 = 1 − (2N − 1)/(2N)·(1 − π) with Scott's π = κ here
    // (equal marginals) and N = 10: 1 − 0.95·0.416667.
    const data = pairsOf([["H", "H", 3], ["H", "S", 1], ["S", "S", 5], ["S", "H", 1]]);
    expect(krippendorffAlpha(asUnits(data))).toBeCloseTo(0.604167, 6);
    expect(krippendorffAlpha(asUnits(data))).toBeGreaterThan(cohensKappa(data.a, data.b));
  });

  it("two raters, n = 200, three categories: α ≈ κ", () => {
    // n = 400 values: H 115, S 210, R 75, Σn_c² = 62950; disagreeing coincidences 2·(10 + 5 + 15) = 60.
    // α = 1 − 399·60/(160000 − 62950) = 1 − 23940/97050 = 0.753323 (κ = 0.754350: unequal marginals, close at this n).
    const data = pairsOf([["H", "H", 50], ["S", "S", 90], ["R", "R", 30], ["H", "S", 10], ["S", "H", 5], ["R", "S", 15]]);
    expect(krippendorffAlpha(asUnits(data))).toBeCloseTo(0.753323, 6);
  });

  it("n = 2 units and undefined cases", () => {
    // Units (H, H) and (S, S): n = 4, n_H = n_S = 2, no disagreement → α = 1 − 0 = 1.
    expect(krippendorffAlpha([["H", "H"], ["S", "S"]])).toBe(1);
    // Units (H, S) and (S, H): each contributes (m² − Σn_uc²)/(m − 1) = (4 − 2)/1 = 2 → 4; n_H = n_S = 2,
    // α = 1 − 3·4/(16 − 8) = −0.5.
    expect(krippendorffAlpha([["H", "S"], ["S", "H"]])).toBe(-0.5);
    expect(krippendorffAlpha([["S", "S"], ["S", "S", null]])).toBeNaN(); // one category throughout: D_e = 0
    expect(krippendorffAlpha([["S", null], [null, "H"]])).toBeNaN(); // nothing pairable
    expect(krippendorffAlpha([])).toBeNaN();
  });
});
