import { describe, expect, it } from "vitest";
import { lengthControlledWinRate } from "../../src/score/length-control.ts";

const items = (values: number[], lengthDiffs: number[]) => values.map((value, i) => ({ value, lengthDiff: lengthDiffs[i]! }));
const logit = (p: number) => Math.log(p / (1 - p));
const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

// With only two distinct length differences the fit is saturated in the two group means: the score equations
// Σ(y − μ) = 0 and Σx(y − μ) = 0 force μ = the mean preference of each group, so θ + φ·x₁ = logit(m₁),
// θ + φ·x₂ = logit(m₂). With x₂ = −x₁ (lengths ±L) that gives θ = (logit m₁ + logit m₂)/2 whatever sd is.
describe("lengthControlledWinRate", () => {
  it("n = 2, exactly solvable: ±100 characters, preferences ¾ and ½", () => {
    // sd(±100) = 141.421 (n − 1), x = ±tanh(100/141.421) = ±tanh(0.707107) = ±0.608859.
    // θ = (logit ¾ + logit ½)/2 = (ln 3 + 0)/2 = ln √3 → LC = 100·√3/(1 + √3) = 63.397460;
    // φ = (ln 3 − 0)/(2·0.608859) = 0.902189. Raw = 100·(¾ + ½)/2 = 62.5: LC is the midpoint on the logit scale,
    // raw the midpoint on the probability scale.
    const lc = lengthControlledWinRate(items([0.75, 0.5], [100, -100]));
    expect(lc.winRate).toBe(62.5);
    expect(lc.lengthControlled).toBeCloseTo(63.39746, 5);
    expect(lc.lengthCoefficient).toBeCloseTo(0.902189, 5);
  });

  it("n = 10, length explains nothing: φ = 0 and LC = raw", () => {
    // Longer (+200): 1, 1, 1, 0, 0 → 0.6; shorter (−200): 1, ½, ½, 1, 0 → 0.6. θ = logit 0.6, φ = 0 → LC = 60 = raw.
    const lc = lengthControlledWinRate(items([1, 1, 1, 0, 0, 1, 0.5, 0.5, 1, 0], [200, 200, 200, 200, 200, -200, -200, -200, -200, -200]));
    expect(lc.winRate).toBeCloseTo(60, 12);
    expect(lc.lengthControlled).toBeCloseTo(60, 6);
    expect(lc.lengthCoefficient).toBeCloseTo(0, 6);
  });

  it("n = 10, the candidate wins mostly when longer, and is longer more often: LC < raw", () => {
    // 6 longer (+100): 1, 1, 1, 1, ½, 0 → ¾; 4 shorter (−100): 0, 0, ½, 0 → ⅛. Raw = (4.5 + 0.5)/10 = 50.
    // θ = (logit ¾ + logit ⅛)/2 = (ln 3 + ln(1/7))/2 = ln √(3/7) → LC = 100·√(3/7)/(1 + √(3/7)) = 39.564392.
    const lc = lengthControlledWinRate(items([1, 1, 1, 1, 0.5, 0, 0, 0, 0.5, 0], [100, 100, 100, 100, 100, 100, -100, -100, -100, -100]));
    expect(lc.winRate).toBe(50);
    expect(lc.lengthControlled).toBeCloseTo(39.564392, 5);
    expect(lc.lengthCoefficient).toBeGreaterThan(0); // the judge favours the longer answer
  });

  it("n = 10, lengths all different: matches a general-purpose optimiser", () => {
    // Cross-checked by maximising the same quasi-likelihood with BFGS: LC = 38.6061, φ = 4.87116.
    const lc = lengthControlledWinRate(items([1, 0.5, 1, 0, 0, 1, 0.5, 1, 0, 0.5], [120, -40, 300, 15, -220, 80, -5, 410, -130, 60]));
    expect(lc.winRate).toBeCloseTo(55, 12);
    expect(lc.lengthControlled).toBeCloseTo(38.6061, 3);
    expect(lc.lengthCoefficient).toBeCloseTo(4.87116, 3);
  });

  it("n = 200: 120 longer answers win 70 %, 80 shorter ones 40 %", () => {
    // Raw = (84 + 32)/200 = 58. θ = (logit 0.7 + logit 0.4)/2 = (0.847298 − 0.405465)/2 = 0.220916 → LC = 55.500557.
    const values = [...Array<number>(84).fill(1), ...Array<number>(36).fill(0), ...Array<number>(32).fill(1), ...Array<number>(48).fill(0)];
    const diffs = [...Array<number>(120).fill(300), ...Array<number>(80).fill(-300)];
    const lc = lengthControlledWinRate(items(values, diffs));
    expect(lc.winRate).toBeCloseTo(58, 12);
    expect(lc.lengthControlled).toBeCloseTo(100 * sigmoid((logit(0.7) + logit(0.4)) / 2), 5);
    expect(lc.lengthControlled).toBeCloseTo(55.500557, 5);
  });

  it("equal lengths (sd 0) or one item drop the length term: LC = raw", () => {
    const equal = lengthControlledWinRate(items([1, 0.5, 0, 1], [50, 50, 50, 50]));
    expect(equal.lengthCoefficient).toBe(0);
    expect(equal.lengthControlled).toBe(62.5);
    expect(lengthControlledWinRate(items([0.5], [300])).lengthControlled).toBe(50);
    expect(lengthControlledWinRate(items([1, 1], [7, 7])).lengthControlled).toBe(100);
  });

  it("separation stays finite: every comparison won, or won exactly when longer", () => {
    const allWins = lengthControlledWinRate(items([1, 1, 1], [10, -20, 30]));
    expect(allWins.winRate).toBe(100);
    expect(allWins.lengthControlled).toBeGreaterThan(99.9);
    expect(Number.isFinite(allWins.lengthCoefficient)).toBe(true);
    // Wins iff longer, symmetric lengths: φ runs off towards +∞ (held by the ridge), θ stays at 0 → LC = 50.
    const longerWins = lengthControlledWinRate(items([1, 1, 0, 0], [100, 100, -100, -100]));
    expect(longerWins.lengthControlled).toBeCloseTo(50, 6);
    expect(longerWins.lengthCoefficient).toBeGreaterThan(10);
    expect(Number.isFinite(longerWins.lengthCoefficient)).toBe(true);
  });

  it("no items: NaN", () => {
    const lc = lengthControlledWinRate([]);
    expect([lc.winRate, lc.lengthControlled, lc.lengthCoefficient]).toEqual([NaN, NaN, NaN]);
  });
});
