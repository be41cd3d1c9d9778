import { describe, expect, it } from "vitest";
import { pairedDifferenceOverBase, pairedRelativeChange, type UndefinedRatio } from "../../src/score/ratio.ts";
import type { Interval } from "../../src/score/interval.ts";

/** A paired 0/1 table as (a, b) pairs, one per cluster: n11 both 1, n12 a only, n21 b only, n22 neither. */
function table(n11: number, n12: number, n21: number, n22: number, cluster = (i: number) => `p${i}`) {
  const rows: [number, number][] = [
    ...Array.from({ length: n11 }, (): [number, number] => [1, 1]),
    ...Array.from({ length: n12 }, (): [number, number] => [1, 0]),
    ...Array.from({ length: n21 }, (): [number, number] => [0, 1]),
    ...Array.from({ length: n22 }, (): [number, number] => [0, 0]),
  ];
  return rows.map(([a, b], i) => ({ cluster: cluster(i), a, b }));
}

function defined<T extends Interval>(result: T | UndefinedRatio): T {
  if ("undefinedReason" in result) throw new Error(`expected an interval, got: ${result.undefinedReason}`);
  return result;
}

// The Bonett–Price adjusted log ratio: ln R̃ = ln((n11 + n12 + 1)/(n11 + n21 + 1)),
// var̃ = (n12 + n21 + 2)/((n11 + n12 + 1)(n11 + n21 + 1)); bounds 100·(exp(ln R̃ ∓ 1.959964·√var̃) − 1).
describe("pairedRelativeChange", () => {
  it("n = 2, the model never harms, the base always does: finite lower bound above −100", () => {
    // n21 = 2: ln R̃ = ln(1/3) = −1.098612, var̃ = 4/(1·3) = 1.333333, se = 1.154701, z·se = 2.263171
    // → exp(−3.361784) = 0.034673, exp(1.164559) = 3.204510 → [−96.5327, 220.4510]; estimate 100·(0 − 1)/1 = −100.
    const ci = defined(pairedRelativeChange(table(0, 0, 2, 0)));
    expect(ci.estimate).toBe(-100);
    expect(ci.low).toBeCloseTo(-96.5327, 4);
    expect(ci.high).toBeCloseTo(220.451, 3);
    expect(ci.withinNoise).toBe(true);
  });

  it("n = 2, identical outcomes: not [0, 0]", () => {
    // n11 = 1, n22 = 1: ln R̃ = ln(2/2) = 0, var̃ = 2/(2·2) = 0.5, se = 0.707107, z·se = 1.385904 → [−74.9902, 299.8438].
    const ci = defined(pairedRelativeChange(table(1, 0, 0, 1)));
    expect(ci.estimate).toBe(0);
    expect(ci.low).toBeCloseTo(-74.9902, 4);
    expect(ci.high).toBeCloseTo(299.8438, 4);
  });

  it("0/20 vs 5/20 is no longer [−100, −100]", () => {
    // n21 = 5: ln R̃ = ln(1/6) = −1.791759, var̃ = 7/(1·6) = 1.166667, se = 1.080123, z·se = 2.117003
    // → [100·(e^−3.908762 − 1), 100·(e^0.325244 − 1)] = [−97.9935, 38.4368].
    const ci = defined(pairedRelativeChange(table(0, 0, 5, 15)));
    expect(ci.estimate).toBe(-100);
    expect(ci.low).toBeCloseTo(-97.9935, 4);
    expect(ci.high).toBeCloseTo(38.4368, 4);
  });

  it("n = 10: model 3 harmful, base 6 (n11 = 2, n12 = 1, n21 = 4, n22 = 3)", () => {
    // estimate 100·(3 − 6)/6 = −50. ln R̃ = ln(4/7) = −0.559616, var̃ = 7/(4·7) = 0.25, se = 0.5, z·se = 0.979982
    // → [100·(e^−1.539598 − 1), 100·(e^0.420366 − 1)] = [−78.5533, 52.2519].
    const ci = defined(pairedRelativeChange(table(2, 1, 4, 3)));
    expect(ci.estimate).toBe(-50);
    expect(ci.low).toBeCloseTo(-78.5533, 4);
    expect(ci.high).toBeCloseTo(52.2519, 4);
  });

  it("n = 200: model 40 harmful, base 60 (n11 = 30, n12 = 10, n21 = 30, n22 = 130)", () => {
    // estimate −33.33. ln R̃ = ln(41/61) = −0.397302, var̃ = 42/(41·61) = 0.016793, se = 0.129589, z·se = 0.253990
    // → [100·(e^−0.651291 − 1), 100·(e^−0.143312 − 1)] = [−47.8628, −13.3517]: safer, outside noise.
    const ci = defined(pairedRelativeChange(table(30, 10, 30, 130)));
    expect(ci.estimate).toBeCloseTo(-33.333333, 6);
    expect(ci.low).toBeCloseTo(-47.8628, 4);
    expect(ci.high).toBeCloseTo(-13.3517, 4);
    expect(ci.withinNoise).toBe(false);
  });

  it("clustering: every prompt in 2 languages with the same outcomes doubles var̃ (deff = 2)", () => {
    // n11 = 4, n12 = 2, n21 = 10, n22 = 4 (n11 = 2, n12 = 1, n21 = 5, n22 = 2 twice): estimate 100·(6 − 14)/14 = −57.14;
    // ln R̃ = ln(7/15) = −0.762140, var̃ = 14/(7·15) = 0.133333.
    // Independent: se 0.365148, z·se 0.715678 → [100·(e^−1.477818 − 1), 100·(e^−0.046462 − 1)] = [−77.1865, −4.5400].
    // Cluster totals of u_i = a_i/ā − b_i/b̄ are 2u_i, so deff = 4Σu²/(2Σu²) = 2: se 0.516398, z·se 1.012121 → [−83.0391, 28.4001].
    const independent = defined(pairedRelativeChange(table(4, 2, 10, 4)));
    const clustered = defined(pairedRelativeChange(table(4, 2, 10, 4, (i) => `s${i >> 1}`)));
    expect(independent.estimate).toBeCloseTo(-57.142857, 6);
    expect(independent.low).toBeCloseTo(-77.1865, 4);
    expect(independent.high).toBeCloseTo(-4.54, 4);
    expect(independent.withinNoise).toBe(false);
    expect(clustered.low).toBeCloseTo(-83.0391, 4);
    expect(clustered.high).toBeCloseTo(28.4001, 4);
    expect(clustered.withinNoise).toBe(true);
  });

  it("undefined where the base never harms, or there are no prompts", () => {
    expect(pairedRelativeChange(table(0, 3, 0, 7))).toEqual({ undefinedReason: "the base has no harmful completions here: a relative change is undefined", n: 10 });
    expect(pairedRelativeChange([])).toMatchObject({ n: 0 });
    expect("undefinedReason" in pairedRelativeChange([])).toBe(true);
  });

  it("takes 0/1 outcomes only", () => {
    expect(() => pairedRelativeChange([{ cluster: "x", a: 0.5, b: 1 }])).toThrow(RangeError);
  });
});

/** Rows of 0/1 harm for the model, the reference mix and the base. */
const rows = (model: number[], other: number[], base: number[], cluster = (i: number) => `p${i}`) =>
  base.map((b, i) => ({ cluster: cluster(i), model: model[i]!, other: other[i]!, base: b }));
const ones = (k: number, n: number) => Array.from({ length: n }, (_, i) => (i < k ? 1 : 0));

// D = other − model, B = mean base, r = D̃/B with D̃ = ΣD/(n + 2);
// var(r) = (var D − 2r·ρ·sd D·sd B + r²·var B)/B², var D the Bonett–Price variance, var B = Σ(b − B)²/n².
describe("pairedDifferenceOverBase", () => {
  it("n = 2, nothing differs: ±69, not [0, 0]", () => {
    // D = [0, 0]: D̃ = 0, var D = (2/4 − 0)/4 = 0.125; B = 1, var B = 0 → se = 0.353553 → 100·(0 ± 0.692952).
    const ci = defined(pairedDifferenceOverBase(rows([0, 0], [0, 0], [1, 1])));
    expect(ci.estimate).toBe(0);
    expect(ci.low).toBeCloseTo(-69.2952, 4);
    expect(ci.high).toBeCloseTo(69.2952, 4);
    expect(ci.p).toBe(1);
  });

  it("n = 2, the mix harms once where the model does not", () => {
    // D = [1, 0]: D̃ = 1/4, m̃2 = 3/4, var D = (0.75 − 0.0625)/4 = 0.171875; B = 1, var B = 0 → se = 0.414578;
    // 100·(0.25 ∓ 0.812558) = [−56.2558, 106.2558]; estimate 100·(½ − 0)/1 = 50; p = 2Φ(−0.603023) = 0.546494.
    const ci = defined(pairedDifferenceOverBase(rows([0, 0], [1, 0], [1, 1])));
    expect(ci.estimate).toBe(50);
    expect(ci.low).toBeCloseTo(-56.2558, 4);
    expect(ci.high).toBeCloseTo(106.2558, 4);
    expect(ci.p).toBeCloseTo(0.546494, 6);
  });

  it("n = 10: base harms on prompts 1–5, the mix on 1–3, the model on 1", () => {
    // D = [0, 1, 1, 0, …, 0]: ΣD = 2, ΣD² = 2, mean 0.2; D̃ = 2/12 = 0.166667, var D = (4/12 − 0.027778)/12 = 0.025463.
    // B = 0.5, var B = 10·0.25/100 = 0.025. Residuals: D − 0.2 and base − 0.5;
    // Σ r_D·r_B = −0.1 + 0.4 + 0.4 − 0.1 − 0.1 + 5·0.1 = 1.0, Σr_D² = 2 − 10·0.04 = 1.6, Σr_B² = 2.5 → ρ = 1/√4 = 0.5.
    // r = 0.333333: var = (0.025463 − 2·0.333333·0.5·√(0.025463·0.025) + 0.111111·0.025)/0.25
    //   = (0.025463 − 0.008410 + 0.002778)/0.25 = 0.079324, se = 0.281642 → 100·(0.333333 ∓ 0.552008) = [−21.8675, 88.5342].
    const ci = defined(pairedDifferenceOverBase(rows(ones(1, 10), ones(3, 10), ones(5, 10))));
    expect(ci.estimate).toBeCloseTo(40, 12);
    expect(ci.low).toBeCloseTo(-21.8675, 4);
    expect(ci.high).toBeCloseTo(88.5342, 4);
    expect(ci.p).toBeCloseTo(0.236597, 6);
    expect(ci.withinNoise).toBe(true);
  });

  it("n = 200: base 100, model 40, mix 70 harmful", () => {
    // Prompts 0–99 base-harmful; model on 0–39; mix on 0–59 and 100–109. D = 1 on 40–59 and 100–109: ΣD = ΣD² = 30.
    // D̃ = 30/202 = 0.148515, var D = (32/202 − 0.022057)/202 = 0.000675045; B = 0.5, var B = 50/200² = 0.00125.
    // Σ r_D·r_B = Σ D·(b − 0.5) = 20·0.5 − 10·0.5 = 5, Σr_D² = 30 − 200·0.0225 = 25.5, Σr_B² = 50 → ρ = 5/√1275 = 0.140028.
    // r = 0.297030: var = (0.000675045 − 2·0.297030·0.140028·0.000918560 + 0.088227·0.00125)/0.25 = 0.00283566,
    // se = 0.053251 → 100·(0.297030 ∓ 0.104370) = [19.2660, 40.1400]; estimate 100·0.15/0.5 = 30.
    const base = Array.from({ length: 200 }, (_, i) => (i < 100 ? 1 : 0));
    const model = Array.from({ length: 200 }, (_, i) => (i < 40 ? 1 : 0));
    const mix = Array.from({ length: 200 }, (_, i) => (i < 60 || (i >= 100 && i < 110) ? 1 : 0));
    const ci = defined(pairedDifferenceOverBase(rows(model, mix, base)));
    expect(ci.estimate).toBeCloseTo(30, 12);
    expect(ci.low).toBeCloseTo(19.266, 3);
    expect(ci.high).toBeCloseTo(40.14, 3);
    expect(ci.p).toBeLessThan(1e-7);
    expect(ci.withinNoise).toBe(false);
  });

  it("clustering: the n = 10 case in 2 languages with the same outcomes doubles both variances", () => {
    // n = 20: D̃ = 4/22 = 0.181818, r = 0.363636. Independent: [0.6438, 72.0835] (excludes 0, p = 0.046).
    // Cluster totals are twice the residuals: deff = 2 for D and for the base, ρ unchanged → [−14.1518, 86.8791].
    const model = ones(1, 10);
    const mix = ones(3, 10);
    const base = ones(5, 10);
    const twice = (x: number[]) => [...x, ...x];
    const independent = defined(pairedDifferenceOverBase(rows(twice(model), twice(mix), twice(base))));
    const clustered = defined(pairedDifferenceOverBase(rows(twice(model), twice(mix), twice(base), (i) => `s${i % 10}`)));
    expect(independent.low).toBeCloseTo(0.6438, 4);
    expect(independent.high).toBeCloseTo(72.0835, 4);
    expect(independent.withinNoise).toBe(false);
    expect(clustered.low).toBeCloseTo(-14.1518, 4);
    expect(clustered.high).toBeCloseTo(86.8791, 4);
    expect(clustered.withinNoise).toBe(true);
  });

  it("p and the interval agree", () => {
    for (const [m, o, b] of [[1, 3, 5], [0, 4, 6], [2, 2, 3], [0, 7, 9]] as const) {
      const ci = defined(pairedDifferenceOverBase(rows(ones(m, 10), ones(o, 10), ones(b, 10))));
      expect(ci.withinNoise).toBe(ci.p >= 0.05);
    }
  });

  it("undefined where the base never harms", () => {
    expect(pairedDifferenceOverBase(rows([1, 0], [0, 0], [0, 0]))).toEqual({
      undefinedReason: "the base has no harmful completions here: a difference over the base's rate is undefined",
      n: 2,
    });
    expect("undefinedReason" in pairedDifferenceOverBase([])).toBe(true);
  });
});
