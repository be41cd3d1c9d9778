import { describe, expect, it } from "vitest";
import { normalCdf, normalPdf, normalQuantile, twoSidedP, twoSidedZ } from "../../src/score/normal.ts";

// Reference values from standard tables (Abramowitz & Stegun 1964, Table 26.1) and from any statistics package.
describe("standard normal", () => {
  it("CDF at known points, to about 1e-15", () => {
    expect(normalCdf(0)).toBe(0.5);
    expect(normalCdf(1)).toBeCloseTo(0.841344746068543, 14);
    expect(normalCdf(-1)).toBeCloseTo(0.158655253931457, 14);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 14);
    expect(normalCdf(2)).toBeCloseTo(0.977249868051821, 14);
    expect(normalCdf(3)).toBeCloseTo(0.998650101968370, 14); // the series/continued-fraction seam
    expect(normalCdf(-3)).toBeCloseTo(0.001349898031630, 15);
  });

  it("keeps relative accuracy deep in the tail (where 1 − Φ would round to 0)", () => {
    expect(normalCdf(-5) / 2.866515718791939e-7).toBeCloseTo(1, 12);
    expect(normalCdf(-10) / 7.619853024160527e-24).toBeCloseTo(1, 12);
    expect(normalCdf(-40)).toBe(0);
    expect(normalCdf(Infinity)).toBe(1);
    expect(normalCdf(-Infinity)).toBe(0);
    expect(normalCdf(NaN)).toBeNaN();
  });

  it("density", () => {
    expect(normalPdf(0)).toBeCloseTo(0.398942280401433, 15); // 1/√(2π)
    expect(normalPdf(1)).toBeCloseTo(0.241970724519143, 15);
  });

  it("quantile at known points, and inverts the CDF", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 13);
    expect(normalQuantile(0.8)).toBeCloseTo(0.841621233572914, 13);
    expect(normalQuantile(0.995)).toBeCloseTo(2.575829303548901, 13);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232306167814, 13);
    expect(normalQuantile(1e-10)).toBeCloseTo(-6.361340902404056, 12);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(normalQuantile(1.5)).toBeNaN();
    for (const p of [1e-8, 0.01, 0.02425, 0.3, 0.7, 0.97575, 0.999]) expect(normalCdf(normalQuantile(p)) / p).toBeCloseTo(1, 12);
  });

  it("two-sided critical values and p-values agree with each other", () => {
    expect(twoSidedZ(0.95)).toBeCloseTo(1.959963984540054, 13);
    expect(twoSidedZ(0.9)).toBeCloseTo(1.644853626951472, 13);
    expect(twoSidedP(1.959963984540054)).toBeCloseTo(0.05, 14);
    expect(twoSidedP(0)).toBe(1);
    expect(twoSidedP(-2)).toBeCloseTo(0.045500263896358, 14);
    expect(() => twoSidedZ(1)).toThrow(RangeError);
    expect(() => twoSidedZ(0)).toThrow(RangeError);
  });
});
