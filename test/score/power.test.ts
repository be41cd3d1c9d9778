import { describe, expect, it } from "vitest";
import { minimumDetectableDifference, promptsToResolve } from "../../src/score/power.ts";

describe("minimumDetectableDifference", () => {
  it("α = 0.05, power 0.8: 2.801585·sd/√n at n = 2, 10, 200", () => {
    // z_0.975 + z_0.8 = 1.959964 + 0.841621 = 2.801585.
    expect(minimumDetectableDifference(1, 1)).toBeCloseTo(2.801585, 6);
    expect(minimumDetectableDifference(0.5, 2)).toBeCloseTo(0.99051, 6); // 2.801585·0.5/1.414214
    expect(minimumDetectableDifference(0.5, 10)).toBeCloseTo(0.44297, 6); // 2.801585·0.5/3.162278
    expect(minimumDetectableDifference(0.5, 200)).toBeCloseTo(0.099051, 6); // 2.801585·0.5/14.142136
  });

  it("other α and power", () => {
    // z_0.995 + z_0.9 = 2.575829 + 1.281552 = 3.857381.
    expect(minimumDetectableDifference(1, 1, { alpha: 0.01, power: 0.9 })).toBeCloseTo(3.857381, 6);
    expect(minimumDetectableDifference(1, 0)).toBeNaN();
    expect(() => minimumDetectableDifference(1, 10, { power: 1 })).toThrow(RangeError);
  });
});

describe("promptsToResolve", () => {
  it("half-widths fall as 1/√n", () => {
    expect(promptsToResolve(200, 0.1, 0.05)).toBe(800); // 200·(0.1/0.05)² = 200·4
    expect(promptsToResolve(10, 0.3, 0.1)).toBe(90); // 10·3² (computed as 89.99999999999997 → 90)
    expect(promptsToResolve(2, 0.69, 0.1)).toBe(96); // 2·6.9² = 95.22 → 96
    expect(promptsToResolve(100, 0.05, 0.1)).toBe(25); // already narrower than the margin: 100/4
  });

  it("a zero or negative margin is never resolved", () => {
    expect(promptsToResolve(100, 0.1, 0)).toBe(Infinity);
    expect(promptsToResolve(100, 0.1, -1)).toBe(Infinity);
    expect(promptsToResolve(100, NaN, 0.1)).toBeNaN();
  });
});
