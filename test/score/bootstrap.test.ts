import { describe, expect, it } from "vitest";
import { pairedBootstrap, quantile, type Unit } from "../../src/score/bootstrap.ts";
import { harmfulRate, relativeHarmChange, winRate } from "../../src/score/metrics.ts";
import { seededRng } from "../../src/merge/rng.ts";

const units = (rows: Record<string, number>[], cluster = (i: number) => String(i)): Unit[] => rows.map((values, i) => ({ cluster: cluster(i), values }));

describe("metrics (hand-computed)", () => {
  const rows = units([
    { merge: 1, base: 1, mix: 0 },
    { merge: 0, base: 1, mix: 1 },
    { merge: 0, base: 1, mix: 0 },
    { merge: 0, base: 0, mix: 0 },
  ]);
  it("harmful rate and the paper's relative change vs the base", () => {
    expect(harmfulRate(rows, "merge")).toBe(0.25);
    expect(harmfulRate(rows, "base")).toBe(0.75);
    expect(relativeHarmChange(rows, "merge", "base")).toBeCloseTo((100 * (0.25 - 0.75)) / 0.75); // −66.7: safer
    expect(relativeHarmChange(units([{ m: 1, b: 0 }]), "m", "b")).toBeNaN(); // undefined when the base never harms
  });
  it("win rate counts ties as half", () => {
    expect(winRate(units([{ m: 1 }, { m: 0.5 }, { m: 0 }, { m: 0.5 }]), "m")).toBe(0.5);
  });
  it("quantiles interpolate linearly", () => {
    expect(quantile([0, 10], 0.25)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
  });
});

describe("paired bootstrap", () => {
  it("matches the normal approximation for a proportion at large n", () => {
    const rng = seededRng("binomial");
    const n = 2000;
    const rows = units(Array.from({ length: n }, () => ({ m: rng.next() < 0.3 ? 1 : 0 })));
    const p = harmfulRate(rows, "m");
    const ci = pairedBootstrap(rows, (s) => harmfulRate(s, "m"), { iterations: 2000, seed: 1 });
    const half = 1.96 * Math.sqrt((p * (1 - p)) / n);
    expect(ci.estimate).toBe(p);
    expect((ci.high - ci.low) / 2).toBeGreaterThan(half * 0.85);
    expect((ci.high - ci.low) / 2).toBeLessThan(half * 1.15);
    expect(ci.low).toBeLessThan(p);
    expect(ci.high).toBeGreaterThan(p);
  });

  it("pairs models on the same resample: identical models differ by exactly zero", () => {
    const rng = seededRng("same");
    const rows = units(Array.from({ length: 300 }, () => {
      const v = rng.next() < 0.4 ? 1 : 0;
      return { a: v, b: v };
    }));
    const ci = pairedBootstrap(rows, (s) => harmfulRate(s, "a") - harmfulRate(s, "b"));
    expect([ci.low, ci.estimate, ci.high]).toEqual([0, 0, 0]);
    expect(ci.withinNoise).toBe(true);
  });

  it("marks a clear difference as outside noise, and is reproducible from its seed", () => {
    const rng = seededRng("diff");
    const rows = units(Array.from({ length: 400 }, () => ({ merge: rng.next() < 0.2 ? 1 : 0, mix: rng.next() < 0.5 ? 1 : 0 })));
    const stat = (s: readonly Unit[]) => harmfulRate(s, "merge") - harmfulRate(s, "mix");
    const ci = pairedBootstrap(rows, stat, { seed: 7 });
    expect(ci.withinNoise).toBe(false);
    expect(ci.high).toBeLessThan(0);
    expect(pairedBootstrap(rows, stat, { seed: 7 })).toEqual(ci);
  });

  it("resamples whole clusters: translations of one prompt move together, widening the interval", () => {
    const rng = seededRng("cluster");
    // 60 source prompts × 6 languages with the same outcome per source: the information is 60 prompts, not 360.
    const rows: Unit[] = [];
    for (let s = 0; s < 60; s++) {
      const v = rng.next() < 0.5 ? 1 : 0;
      for (let l = 0; l < 6; l++) rows.push({ cluster: `src-${s}`, values: { m: v } });
    }
    const clustered = pairedBootstrap(rows, (s) => harmfulRate(s, "m"));
    const naive = pairedBootstrap(rows.map((u, i) => ({ ...u, cluster: String(i) })), (s) => harmfulRate(s, "m"));
    expect(clustered.high - clustered.low).toBeGreaterThan(1.8 * (naive.high - naive.low)); // √6 ≈ 2.45 in theory
  });
});
