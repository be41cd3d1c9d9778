import { describe, expect, it } from "vitest";
import { clusterTotals, crossSum, designEffect } from "../../src/score/design-effect.ts";

describe("design effect", () => {
  it("cluster totals in order of first appearance", () => {
    const items = [{ cluster: "b" }, { cluster: "a" }, { cluster: "b" }, { cluster: "c" }];
    expect(clusterTotals(items, [1, 2, 3, 4])).toEqual([4, 2, 4]);
    expect(crossSum([1, 2, 3], [4, 5, 6])).toBe(32);
  });

  it("the ratio of clustered to reference variance, floored at 1", () => {
    // Residuals 0.5, 0.5, −0.5, −0.5 in clusters {1, 2}, {3, 4}: totals 1, −1 → Σ² = 2; Σr² = 1 → deff 2.
    expect(designEffect(2, 4, 2, 1)).toBe(2);
    // Residuals 0.5, −0.5 in each cluster: totals 0 → 0/1 → floored at 1.
    expect(designEffect(2, 4, 0, 1)).toBe(1);
  });

  it("exactly 1 with one item per cluster, with nothing varying, and with a single cluster", () => {
    expect(designEffect(5, 5, 1.0000000000000002, 1)).toBe(1); // rounding cannot make a per-language cell wider
    expect(designEffect(2, 4, 3, 0)).toBe(1);
    expect(designEffect(1, 4, 0, 1)).toBe(1);
  });
});
