import { describe, expect, it } from "vitest";
import { benjaminiHochberg, holm } from "../../src/score/multiple.ts";

const close = (actual: number[], expected: number[]) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((a, i) => (Number.isNaN(expected[i]) ? expect(a).toBeNaN() : expect(a).toBeCloseTo(expected[i]!, 12)));
};

describe("Holm", () => {
  it("the hand-worked four, in input order", () => {
    // Sorted: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → running max 0.06.
    close(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02]);
  });

  it("n = 2: 0.02·2 = 0.04, then max(0.04, 0.03·1) = 0.04", () => {
    close(holm([0.03, 0.02]), [0.04, 0.04]);
  });

  it("n = 10, caps at 1", () => {
    // p = 0.001·i, i = 1…10: (11 − i)·0.001·i = 0.010, 0.018, 0.024, 0.028, 0.030, 0.030, then 0.028, 0.024, …
    // fall below the running max, which holds at 0.030.
    close(holm(Array.from({ length: 10 }, (_, i) => 0.001 * (i + 1))), [0.01, 0.018, 0.024, 0.028, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03]);
    close(holm([0.6, 0.2, 0.9]), [1, 0.6, 1]); // 0.2·3 = 0.6, 0.6·2 = 1.2 → 1, 0.9·1 → max 1
  });

  it("n = 200: p = 0.001·i", () => {
    // (201 − i)·0.001·i: 0.2, 0.398, 0.594, 0.788, 0.98, then 6·195·0.001 = 1.17 → capped at 1 from the sixth on.
    const adjusted = holm(Array.from({ length: 200 }, (_, i) => 0.001 * (i + 1)));
    close(adjusted.slice(0, 6), [0.2, 0.398, 0.594, 0.788, 0.98, 1]);
    expect(adjusted.slice(5).every((q) => q === 1)).toBe(true);
  });

  it("is monotone in p, never below p, and leaves NaN out of the count", () => {
    const p = [0.3, 0.001, 0.04, 0.04, 0.2, 0.012, 0.7];
    const adjusted = holm(p);
    p.forEach((pi, i) => {
      expect(adjusted[i]).toBeGreaterThanOrEqual(pi);
      p.forEach((pj, j) => pi < pj && expect(adjusted[i]).toBeLessThanOrEqual(adjusted[j]!));
    });
    close(holm([0.01, NaN, 0.02]), [0.02, NaN, 0.02]); // m = 2: 0.01·2, max(0.02, 0.02·1)
    expect(holm([])).toEqual([]);
  });
});

describe("Benjamini–Hochberg", () => {
  it("the hand-worked four", () => {
    // Sorted p·m/rank: 0.005·4/1 = 0.02, 0.01·4/2 = 0.02, 0.03·4/3 = 0.04, 0.04·4/4 = 0.04; running min from the top.
    close(benjaminiHochberg([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02]);
  });

  it("n = 2 and n = 10", () => {
    close(benjaminiHochberg([0.03, 0.02]), [0.03, 0.03]); // 0.02·2/1 = 0.04, 0.03·2/2 = 0.03 → min from the top 0.03
    // p = 0.001·i: 0.001·i·10/i = 0.01 for every i.
    close(benjaminiHochberg(Array.from({ length: 10 }, (_, i) => 0.001 * (i + 1))), Array<number>(10).fill(0.01));
  });

  it("n = 200, and capped at 1", () => {
    // p = 0.001·i: 0.001·i·200/i = 0.2 for every i.
    close(benjaminiHochberg(Array.from({ length: 200 }, (_, i) => 0.001 * (i + 1))), Array<number>(200).fill(0.2));
    close(benjaminiHochberg([0.9, 0.95]), [0.95, 0.95]); // 0.9·2/1 = 1.8, 0.95·2/2 = 0.95 → min 0.95
    expect(benjaminiHochberg([NaN, 0.5])).toEqual([NaN, 0.5]);
  });

  it("is never above Holm", () => {
    const p = [0.001, 0.2, 0.04, 0.03, 0.5, 0.012];
    const h = holm(p);
    benjaminiHochberg(p).forEach((q, i) => expect(q).toBeLessThanOrEqual(h[i]!));
  });
});
