import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeTinyModel, type TinyModelShape } from "../../src/fixtures/tiny-models.ts";
import { arceeFusion } from "../../src/merge/methods/arcee-fusion.ts";
import { karcher } from "../../src/merge/methods/karcher.ts";
import { multislerp } from "../../src/merge/methods/multislerp.ts";
import { nearswap } from "../../src/merge/methods/nearswap.ts";
import { ram } from "../../src/merge/methods/ram.ts";
import { ramplusTl } from "../../src/merge/methods/ramplus-tl.ts";
import { getMethod, knownParameterNames, methodNames, randomMethodNames } from "../../src/merge/methods/registry.ts";
import { sce } from "../../src/merge/methods/sce.ts";
import { slerp } from "../../src/merge/methods/slerp.ts";
import { taskArithmetic } from "../../src/merge/methods/task-arithmetic.ts";
import type { ParamValue } from "../../src/merge/methods/types.ts";
import { Checkpoint } from "../../src/merge/safetensors/checkpoint.ts";
import { decodeToFloat32, type FloatDtype } from "../../src/merge/safetensors/dtype.ts";
import { runCli } from "../run-cli.ts";
import { callMethod } from "./method-harness.ts";

/**
 * The mergekit methods added for issue 13: multislerp, karcher, sce, nearswap, arcee_fusion, ram, ramplus_tl.
 * Hand-worked vectors (the working is in the comments), invariants, and one merge per method through the CLI.
 */

const close = (actual: number[], expected: number[], digits = 5) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(v, `index ${i}`).toBeCloseTo(expected[i]!, digits));
};

function randomVector(n: number, seed: number): number[] {
  let x = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return ((x >>> 0) / 2 ** 32 - 0.5) * 2;
  });
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const scaled = (v: number[], length: number) => v.map((x) => (x * length) / norm(v));
const weights = (...ws: number[]) => ws.map((weight) => ({ weight }));

describe("multislerp", () => {
  it("orthogonal unit vectors at ½/½ give [0.70711, 0.70711] (mergekit's test)", () => {
    close(callMethod(multislerp, { models: [[1, 0], [0, 1]], perModel: weights(0.5, 0.5) }), [0.70711, 0.70711]);
  });

  it("rescales the mean direction to the weighted mean norm", () => {
    // u = [1,0], [0,1]; m = ½u₀ + ½u₁ → m̂ = [.70711, .70711]; Σ wᵢ‖xᵢ‖ = ½·2 + ½·1 = 1.5 → [1.06066, 1.06066].
    close(callMethod(multislerp, { models: [[2, 0], [0, 1]], perModel: weights(0.5, 0.5) }), [1.06066, 1.06066]);
    // normalize_weights: false with weights 1, 1: m̂ the same, scale Σ wᵢ‖xᵢ‖ = 2 → [1.41421, 1.41421].
    close(callMethod(multislerp, { models: [[1, 0], [0, 1]], perModel: weights(1, 1), global: { normalize_weights: false } }), [1.41421, 1.41421]);
  });

  it("with two inputs at weights ¼/¾ is a normalised lerp, not a slerp (mergekit's tangent step is zero)", () => {
    // m = [.25, .75], ‖m‖ = .790569 → m̂ = [.31623, .94868]; slerp at t = .75 would be [cos 67.5°, sin 67.5°].
    const out = callMethod(multislerp, { models: [[1, 0], [0, 1]], perModel: weights(0.25, 0.75) });
    close(out, [0.31623, 0.94868]);
    expect(out[0]).not.toBeCloseTo(0.38268, 3);
  });

  it("three orthogonal unit vectors with equal weights give the diagonal", () => {
    // m = ⅓[1,1,1] → m̂ = [1,1,1]/√3; scale 1.
    const third = 1 / 3;
    close(callMethod(multislerp, { models: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], perModel: weights(third, third, third) }), [0.57735, 0.57735, 0.57735]);
  });

  it("with a base interpolates the task vectors and adds the base back", () => {
    // x = [1,0], [0,1] → [.70711, .70711] + [1, 1].
    close(callMethod(multislerp, { base: [1, 1], models: [[2, 1], [1, 2]], perModel: weights(1, 1) }), [1.70711, 1.70711]);
  });

  it("one model is that model, whatever its weight or the base", () => {
    const m = randomVector(30, 1);
    close(callMethod(multislerp, { models: [m], perModel: weights(0.3) }), m, 6);
    close(callMethod(multislerp, { base: randomVector(30, 2), models: [m], perModel: weights(0.3), global: { normalize_weights: false } }), m, 6);
  });

  it("identical models give that model, with or without a base", () => {
    const m = randomVector(40, 3);
    close(callMethod(multislerp, { models: [m, m, m], perModel: weights(0.2, 0.3, 0.5) }), m, 5);
    close(callMethod(multislerp, { base: randomVector(40, 4), models: [m, m], perModel: weights(1, 3) }), m, 5);
  });

  it("two directions that cancel fall back to w₀x₀ + w₁x₁; three are an error, as in mergekit", () => {
    // u₀ = −u₁ with equal weights: m = 0 → ½[1,0] + ½[−1,0] = [0, 0] (+ the base).
    close(callMethod(multislerp, { models: [[1, 0], [-1, 0]], perModel: weights(0.5, 0.5) }), [0, 0]);
    close(callMethod(multislerp, { base: [1, 2], models: [[2, 2], [0, 2]], perModel: weights(1, 1) }), [1, 2]);
    // Unequal weights do not cancel: m = [.5, 0] → m̂ = [1, 0], scale ¾·1 + ¼·1 = 1.
    close(callMethod(multislerp, { models: [[1, 0], [-1, 0]], perModel: weights(0.75, 0.25) }), [1, 0]);
    expect(() => callMethod(multislerp, { base: [1, 1], models: [[1, 1], [1, 1], [1, 1]], perModel: weights(1, 1, 1) })).toThrow(/weighted sum of the unit vectors is zero/);
  });

  it("agrees with a direct, element-wise reading of mergekit's steps on random vectors", () => {
    // Straight from the steps: uᵢ = xᵢ/(‖xᵢ‖+eps), m = Σwᵢuᵢ, m̂, τ = Σwᵢ(uᵢ − (uᵢ·m̂)m̂), ν = ‖τ‖+eps, r.
    const reference = (models: number[][], ws: number[], base?: number[]) => {
      const xs = models.map((m) => m.map((v, j) => v - (base?.[j] ?? 0)));
      const dot = (a: number[], b: number[]) => a.reduce((s, v, j) => s + v * b[j]!, 0);
      const us = xs.map((x) => x.map((v) => v / (norm(x) + 1e-8)));
      const m = xs[0]!.map((_, j) => us.reduce((s, u, i) => s + ws[i]! * u[j]!, 0));
      const mHat = m.map((v) => v / norm(m));
      const tau = m.map((_, j) => us.reduce((s, u, i) => s + ws[i]! * (u[j]! - dot(u, mHat) * mHat[j]!), 0));
      const nu = norm(tau) + 1e-8;
      const scale = xs.reduce((s, x, i) => s + ws[i]! * norm(x), 0);
      return mHat.map((v, j) => (v * Math.cos(nu) + (tau[j]! * Math.sin(nu)) / nu) * scale + (base?.[j] ?? 0));
    };
    for (const [count, ws, withBase] of [[2, [0.3, 0.7], false], [3, [0.2, 0.5, 0.3], true], [4, [0.1, 0.2, 0.3, 0.4], false], [3, [1, -0.5, 0.5], true]] as const) {
      const models = Array.from({ length: count }, (_, i) => randomVector(33, 20 + i + count));
      const base = withBase ? randomVector(33, 40 + count) : undefined;
      close(callMethod(multislerp, { base, models, perModel: weights(...ws) }), reference(models, [...ws], base), 5);
    }
  });

  it("refuses weights summing to zero under normalize_weights", () => {
    expect(multislerp.checkParams!({ normalize_weights: true }, weights(0.5, -0.5))).toMatch(/sum to 0/);
    expect(multislerp.checkParams!({ normalize_weights: false }, weights(0.5, -0.5))).toBeUndefined();
    expect(multislerp.checkParams!({ normalize_weights: true }, weights(0))).toBeUndefined();
  });
});

describe("karcher", () => {
  it("identical points give that point", () => {
    close(callMethod(karcher, { models: [[3, 4], [3, 4], [3, 4]] }), [3, 4], 5);
    const m = randomVector(50, 5);
    close(callMethod(karcher, { models: [m, m] }), m, 5);
  });

  it("two points of equal norm give slerp at ½ (up to tol)", () => {
    const a = scaled(randomVector(64, 6), 3);
    const b = scaled(randomVector(64, 7), 3);
    const mid = callMethod(slerp, { base: a, models: [b], global: { t: 0.5 } });
    const out = callMethod(karcher, { models: [a, b] });
    out.forEach((v, i) => expect(Math.abs(v - mid[i]!)).toBeLessThan(1e-5 * 3));
  });

  it("two points of different norms: the geodesic midpoint at their mean norm", () => {
    // Directions [1,0] and [0,1] → midpoint [.70711, .70711]; scale (2 + 1)/2 = 1.5 → [1.06066, 1.06066].
    close(callMethod(karcher, { models: [[2, 0], [0, 1]] }), [1.06066, 1.06066]);
  });

  it("iterates to the Karcher mean: angles 0°, 0°, 90° on a circle average to 30°", () => {
    // Start: normalise ⅓([1,0] + [1,0] + [0,1]) = [2,1]/√5 = [.89443, .44721] (26.57°). On a circle the
    // exponential map is exact: one step moves by ⅓Σ(φᵢ − φ) to 30°, the next finds T = 0 and stops.
    close(callMethod(karcher, { models: [[1, 0], [1, 0], [0, 1]] }), [0.86603, 0.5]);
    close(callMethod(karcher, { models: [[1, 0], [1, 0], [0, 1]], global: { max_iter: 0 } }), [0.89443, 0.44721]);
  });

  it("agrees with a direct, element-wise reading of mergekit's iteration on random vectors", () => {
    const dot = (a: number[], b: number[]) => a.reduce((s, v, j) => s + v * b[j]!, 0);
    const unit = (a: number[]) => a.map((v) => v / norm(a));
    const reference = (xs: number[][], maxIter: number, tol: number) => {
      const a = 1 / xs.length;
      const us = xs.map(unit);
      let u = unit(us[0]!.map((_, j) => us.reduce((s, v) => s + a * v[j]!, 0)));
      for (let iter = 0; iter < maxIter; iter++) {
        const t = u.map(() => 0);
        for (const ui of us) {
          const c = Math.min(1, Math.max(-1, dot(u, ui)));
          const theta = Math.acos(c);
          if (theta < tol) continue;
          ui.forEach((v, j) => (t[j] = t[j]! + a * (theta / Math.sin(theta)) * (v - c * u[j]!)));
        }
        const nt = norm(t);
        if (nt < tol) break;
        u = unit(u.map((v, j) => Math.cos(nt) * v + (Math.sin(nt) * t[j]!) / nt));
      }
      const scale = xs.reduce((s, x) => s + a * norm(x), 0);
      return u.map((v) => v * scale);
    };
    for (const count of [3, 4, 5]) {
      // Points in a cone around a common direction, as fine-tunes of one model are: the iteration has work to do.
      const common = randomVector(25, 50);
      const xs = Array.from({ length: count }, (_, i) => common.map((v, j) => v + 0.8 * randomVector(25, 60 + i)[j]!).map((v) => v * (1 + i / 2)));
      for (const maxIter of [1, 3, 10]) close(callMethod(karcher, { models: xs, global: { max_iter: maxIter } }), reference(xs, maxIter, 1e-5), 5);
    }
  });

  it("ignores per-model weights (always 1/N), as mergekit does", () => {
    expect(karcher.params).not.toHaveProperty("weight");
    const models = [[1, 0], [1, 0], [0, 1]];
    close(callMethod(karcher, { models, perModel: weights(10, 0, 1) }), callMethod(karcher, { models }), 6);
  });

  it("an input with norm ≤ tol has no direction but still counts in the scale; all-zero inputs give zeros", () => {
    // Only [1,0] is valid → direction [1,0]; scale (1 + 0)/2 = 0.5.
    close(callMethod(karcher, { models: [[1, 0], [0, 0]] }), [0.5, 0]);
    close(callMethod(karcher, { models: [[0, 0], [0, 0]] }), [0, 0]);
  });

  it("takes the base as just another input, and rejects a fractional max_iter", () => {
    expect(karcher.base).toBe("input");
    expect(karcher.params.max_iter!.check!(2.5)).toMatch(/whole number/);
    expect(karcher.params.max_iter!.check!(5)).toBeUndefined();
  });
});

describe("sce", () => {
  it("matches mergekit's hand-worked vector (select_topk 1)", () => {
    // τ₁ = [1, −2], τ₂ = [3, 2]: mean squares 2.5, 6.5 → ω = [.27778, .72222]. Position 0: both +, →
    // (1·ω₁ + 3·ω₂)/(ω₁ + ω₂) = 2.44444. Position 1: Σ = 0 counts as +, only τ₂ agrees → 2.
    close(callMethod(sce, { base: [0, 0], models: [[1, -2], [3, 2]] }), [2.44444, 2]);
  });

  it("select_topk 1 keeps every position; < 1 keeps the top-k by variance across models", () => {
    const base = [0, 0, 0, 0];
    const models = [[1, 0, 2, 0], [3, 1, 2, -4]];
    // Variances (population): [1, .25, 0, 4]; count_nonzero = 3.
    // select_topk 1: ω ∝ mean squares 1.25, 7.5 → [.142857, .857143]. Position 0: both + → 1·ω₁ + 3·ω₂ =
    // 2.714286; 1: τ₁ = 0 never agrees → 1; 2: → 2; 3: Σ < 0, only τ₂ → −4.
    close(callMethod(sce, { base, models }), [2.714286, 1, 2, -4]);
    // select_topk 0.75: k = ⌊3·.75⌋ = 2 → positions 3 and 0. τ₁ = [1,0,0,0], τ₂ = [3,0,0,−4]; mean squares .25,
    // 6.25 → ω = [.038462, .961538]; position 0 → .038462 + 3·.961538 = 2.923077; position 3 → −4.
    close(callMethod(sce, { base, models, global: { select_topk: 0.75 } }), [2.923077, 0, 0, -4]);
    // select_topk 0.5: k = ⌊1.5⌋ = 1 → only position 3 (variance 4): τ₁ is all zero, ω = [0, 1] → [0, 0, 0, −4].
    close(callMethod(sce, { base, models, global: { select_topk: 0.5 } }), [0, 0, 0, -4]);
  });

  it("select_topk ≤ 0, or one model (zero variance), erases everything: the base", () => {
    const base = randomVector(20, 8);
    const model = randomVector(20, 9);
    close(callMethod(sce, { base, models: [model, randomVector(20, 10)], global: { select_topk: 0 } }), base, 6);
    close(callMethod(sce, { base, models: [model], global: { select_topk: 0.5 } }), base, 6);
    // With select_topk 1 a single model is taken whole.
    close(callMethod(sce, { base, models: [model] }), model, 5);
  });

  it("tiny task vectors (Σ mean squares < 1e-6) are weighted equally", () => {
    // τ = [1e-4, 0], [3e-4, 0]: mean squares 5e-9, 4.5e-8 → uniform ½, ½ → (1e-4 + 3e-4)/2 = 2e-4.
    const out = callMethod(sce, { base: [0, 0], models: [[1e-4, 0], [3e-4, 0]] });
    expect(out[0]).toBeCloseTo(2e-4, 9);
  });

  it("has no per-model parameters", () => {
    expect(Object.values(sce.params).every((p) => p.scope === "global")).toBe(true);
  });
});

describe("nearswap", () => {
  const run = (base: number[], model: number[], t: number) => callMethod(nearswap, { base, models: [model], global: { t } });

  it("matches mergekit's hand-worked vector", () => {
    // |B − M| = [.25, 1, 4]; w = clamp(.5/|B − M|, 0, 1) = [1, .5, .125] → [.25, .5, .5].
    close(run([0, 0, 0], [0.25, 1, 4], 0.5), [0.25, 0.5, 0.5]);
  });

  it("t → 0 gives the base; t at least the largest difference gives the other model", () => {
    const base = randomVector(40, 11);
    const model = randomVector(40, 12);
    close(run(base, model, 0), base, 7);
    close(run(base, model, 1e-9), base, 6);
    close(run(base, model, -1), base, 7);
    close(run(base, model, 10), model, 6);
  });

  it("needs the base and at most one other model; a tensor only the base has is the base", () => {
    expect(nearswap.checkInputs!({ models: 2, base: true })).toMatch(/exactly two/);
    expect(nearswap.checkInputs!({ models: 1, base: false })).toMatch(/exactly two/);
    expect(nearswap.checkInputs!({ models: 1, base: true })).toBeUndefined();
    close(callMethod(nearswap, { base: [1, 2], models: [], global: { t: 1 }, shape: [2] }), [1, 2]);
  });
});

describe("arcee_fusion", () => {
  it("keeps the changes whose importance reaches median + 1.5·IQR (1-D: one KL for the tensor)", () => {
    // importance = |M − B|·K = [0, .1K, .2K, 3K]; n − 1 = 3: median sorted[1] = .1K, q1 sorted[0] = 0,
    // q3 sorted[⌊2.25⌋] = .2K → threshold .1K + 1.5·.2K = .4K: only the 3 survives.
    close(callMethod(arceeFusion, { base: [0, 0, 0, 0], models: [[0, 0.1, 0.2, 3]] }), [0, 0, 0, 3]);
  });

  it("weights each row by its KL: a row shifted by a constant has the same softmax, KL 0, and is dropped", () => {
    // Row 0: M = B + 5 → KL 0 → importances 0. Row 1: [0, .1K, .2K, 3K]. Sorted (8): five 0s, .1K, .2K, 3K;
    // median sorted[3] = 0, q1 sorted[1] = 0, q3 sorted[5] = .1K → threshold .15K: row 1 keeps .2 and 3.
    const out = callMethod(arceeFusion, { base: new Array(8).fill(0), models: [[5, 5, 5, 5, 0, 0.1, 0.2, 3]], shape: [2, 4] });
    close(out, [0, 0, 0, 0, 0, 0, 0.2, 3]);
  });

  it("every entry is the base's or the other model's; identical inputs give the base", () => {
    const base = randomVector(64 * 16, 13);
    const model = base.map((b, i) => b + 0.01 * randomVector(64 * 16, 14)[i]!);
    const out = callMethod(arceeFusion, { base, models: [model], shape: [64, 16] });
    out.forEach((v, i) => expect(Math.fround(base[i]!) === v || Math.fround(model[i]!) === v).toBe(true));
    const kept = out.filter((v, i) => v !== Math.fround(base[i]!)).length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(out.length / 2);
    close(callMethod(arceeFusion, { base, models: [base], shape: [64, 16] }), base, 7);
  });

  it("samples its quantiles above 1e6 elements: seeded per tensor (so marked random), exact below", () => {
    expect(randomMethodNames()).toContain("arcee_fusion");
    const big = 1_000_000 + 4096;
    const base = new Array<number>(big).fill(0);
    const model = randomVector(big, 15).map((x) => x * x * x);
    const run = (seed: number, n = big) => callMethod(arceeFusion, { base: base.slice(0, n), models: [model.slice(0, n)], seed, shape: [n / 4096, 4096] });
    const first = run(1);
    expect(run(1)).toEqual(first);
    expect(run(2)).not.toEqual(first);
    const small = 64 * 4096;
    expect(run(1, small)).toEqual(run(2, small));
  });
});

describe("ram and ramplus_tl", () => {
  it("ram matches mergekit's hand-worked vector: overlapping entries are averaged, unique ones kept", () => {
    // Position 0: both active → (.5 + .3)/2 = .4; 1: only τ₂ → .4; 2: only τ₁ → .2.
    close(callMethod(ram, { base: [0, 0, 0], models: [[0.5, 0, 0.2], [0.3, 0.4, 0]] }), [0.4, 0.4, 0.2]);
  });

  it("ram on disjoint task vectors is task arithmetic; changes of at most epsilon are dropped", () => {
    const base = [1, 1, 1];
    const models = [[2, 1, 1], [1, 3, 1]];
    close(callMethod(ram, { base, models }), callMethod(taskArithmetic, { base, models, perModel: weights(1, 1) }));
    close(callMethod(ram, { base, models }), [2, 3, 1]);
    // |τ| = 1e-6 ≤ 1e-5: inactive → the base; with epsilon 1e-7 it counts.
    close(callMethod(ram, { base: [0], models: [[1e-6]] }), [0], 9);
    close(callMethod(ram, { base: [0], models: [[1e-6]], global: { epsilon: 1e-7 } }), [1e-6], 9);
  });

  it("ramplus_tl scales each model's unique entries by 1 + r·clamp(shared/unique, 0, alpha)", () => {
    const base = [0, 0, 0, 0];
    const models = [[0.5, 0, 0.2, 0.1], [0.3, 0.4, 0, 0]];
    // Active: τ₁ at {0, 2, 3}, τ₂ at {0, 1}; position 0 is shared. ρ₁ = 1/2, ρ₂ = 1/1.
    // Defaults r = .1, alpha = .2: both ρ clamp to .2 → λ = 1.02 → [.4, .408, .204, .102].
    close(callMethod(ramplusTl, { base, models }), [0.4, 0.408, 0.204, 0.102]);
    // r = 1, alpha = 1: λ₁ = 1.5, λ₂ = 2 → [.4, .8, .3, .15].
    close(callMethod(ramplusTl, { base, models, global: { r: 1, alpha: 1 } }), [0.4, 0.8, 0.3, 0.15]);
  });

  it("ramplus_tl on disjoint task vectors (ρ = 0) is ram", () => {
    const base = randomVector(30, 16);
    const a = base.map((b, i) => (i % 2 ? b : b + 0.5));
    const c = base.map((b, i) => (i % 2 ? b - 0.25 : b));
    close(callMethod(ramplusTl, { base, models: [a, c], global: { r: 1, alpha: 1 } }), callMethod(ram, { base, models: [a, c] }), 6);
  });

  it("epsilon, r and alpha are global", () => {
    for (const method of [ram, ramplusTl]) expect(Object.values(method.params).every((p) => p.scope === "global")).toBe(true);
  });
});

describe("registry: every mergekit method", () => {
  it("knows all twenty of mergekit's names, and their parameters are real ones", () => {
    const mergekit = [
      "linear", "slerp", "nuslerp", "multislerp", "karcher", "passthrough", "model_stock", "arcee_fusion", "nearswap", "sce",
      "ram", "ramplus_tl", "task_arithmetic", "ties", "dare_ties", "dare_linear", "breadcrumbs", "breadcrumbs_ties", "della", "della_linear",
    ];
    expect(methodNames().sort()).toEqual(mergekit.sort());
    for (const name of ["normalize_weights", "eps", "max_iter", "tol", "select_topk", "r", "alpha", "epsilon", "t"]) {
      expect(knownParameterNames()).toContain(name);
    }
    expect(getMethod("multislerp", "x").params.eps!.default).toBe(1e-8);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// End to end: `mergeval merge RECIPE OUT` on tiny float32 checkpoints; each output tensor must equal the method's
// formula applied to the inputs read back from disk (so parameters, base role and defaults reach the math).

const SHAPE: TinyModelShape = { vocab: 24, hidden: 16, intermediate: 20, layers: 2, dtype: "F32" };
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "mergeval-new-methods-"));
  await writeTinyModel(join(root, "base"), "base", 0, SHAPE);
  await writeTinyModel(join(root, "general"), "general", 0.02, SHAPE);
  await writeTinyModel(join(root, "safety"), "safety", 0.03, SHAPE);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function readAll(dir: string): Promise<Map<string, { shape: number[]; values: Float32Array }>> {
  const checkpoint = await Checkpoint.open(dir);
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, entry] of checkpoint.tensors) {
    const bytes = new Uint8Array(entry.byteLength);
    await checkpoint.readInto(entry, bytes);
    out.set(name, { shape: entry.shape, values: decodeToFloat32(bytes, entry.dtype as FloatDtype) });
  }
  await checkpoint.close();
  return out;
}

interface EndToEnd {
  method: string;
  recipe: string;
  /** Inputs in the order the planner passes them, and whether the base is passed separately. */
  inputs: string[];
  separateBase: boolean;
  global?: Record<string, ParamValue>;
  perModel?: Record<string, ParamValue>[];
}

const CASES: EndToEnd[] = [
  {
    method: "multislerp",
    recipe: "models:\n  - {model: general, parameters: {weight: 0.3}}\n  - {model: safety, parameters: {weight: 0.7}}\nbase_model: base\nmerge_method: multislerp\n",
    inputs: ["general", "safety"],
    separateBase: true,
    perModel: weights(0.3, 0.7),
  },
  {
    method: "karcher",
    recipe: "models:\n  - {model: general}\n  - {model: safety}\nbase_model: base\nmerge_method: karcher\nparameters: {max_iter: 20, tol: 1e-6}\n",
    inputs: ["general", "safety", "base"],
    separateBase: false,
    global: { max_iter: 20, tol: 1e-6 },
  },
  {
    method: "sce",
    recipe: "models:\n  - {model: general}\n  - {model: safety}\nbase_model: base\nmerge_method: sce\nparameters: {select_topk: 0.5}\n",
    inputs: ["general", "safety"],
    separateBase: true,
    global: { select_topk: 0.5 },
  },
  {
    method: "nearswap",
    recipe: "models:\n  - {model: general}\nbase_model: base\nmerge_method: nearswap\nparameters: {t: 0.01}\n",
    inputs: ["general"],
    separateBase: true,
    global: { t: 0.01 },
  },
  {
    method: "arcee_fusion",
    recipe: "models:\n  - {model: safety}\nbase_model: base\nmerge_method: arcee_fusion\n",
    inputs: ["safety"],
    separateBase: true,
  },
  {
    method: "ram",
    recipe: "models:\n  - {model: general}\n  - {model: safety}\nbase_model: base\nmerge_method: ram\nparameters: {epsilon: 0.02}\n",
    inputs: ["general", "safety"],
    separateBase: true,
    global: { epsilon: 0.02 },
  },
  {
    method: "ramplus_tl",
    recipe: "models:\n  - {model: general}\n  - {model: safety}\nbase_model: base\nmerge_method: ramplus_tl\nparameters: {epsilon: 0.02, r: 0.5, alpha: 0.5}\n",
    inputs: ["general", "safety"],
    separateBase: true,
    global: { epsilon: 0.02, r: 0.5, alpha: 0.5 },
  },
];

describe("new methods end to end through the CLI", () => {
  it.each(CASES)("$method: writes every tensor, equal to its formula on the inputs, and differs from each input", async (c) => {
    await writeFile(join(root, `${c.method}.yml`), c.recipe);
    const result = await runCli(["merge", `${c.method}.yml`, `out-${c.method}`, "--strict"], { cwd: root });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const merged = await readAll(join(root, `out-${c.method}`));
    const base = await readAll(join(root, "base"));
    const inputs = await Promise.all(c.inputs.map((name) => readAll(join(root, name))));
    expect([...merged.keys()].sort()).toEqual([...base.keys()].sort());
    const method = getMethod(c.method, "test");
    let differsFromBase = 0;
    for (const [name, tensor] of merged) {
      expect(tensor.values.every(Number.isFinite), name).toBe(true);
      const expected = callMethod(method, {
        base: c.separateBase ? Array.from(base.get(name)!.values) : undefined,
        models: inputs.map((m) => Array.from(m.get(name)!.values)),
        global: c.global,
        perModel: c.perModel,
        shape: tensor.shape,
        tensor: name,
      });
      tensor.values.forEach((v, i) => expect(Math.abs(v - expected[i]!), `${name}[${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(expected[i]!))));
      const b = base.get(name)!.values;
      if (tensor.values.some((v, i) => v !== b[i])) differsFromBase++;
      for (const input of inputs) expect(tensor.values.every((v, i) => v === input.get(name)!.values[i]), `${name} equals an input`).toBe(false);
    }
    expect(differsFromBase).toBeGreaterThan(merged.size / 2);
  });
});

describe("new methods: recipe checks and dry run", () => {
  it("warns about a weight under karcher and a per-model epsilon under ram; a misspelt select_topk is an error", async () => {
    await writeFile(join(root, "karcher-weight.yml"), "models:\n  - {model: general, parameters: {weight: 0.7}}\n  - {model: safety}\nmerge_method: karcher\n");
    const karcherRun = await runCli(["merge", "karcher-weight.yml", "out-kw", "--dry-run"], { cwd: root });
    expect(karcherRun.code).toBe(0);
    expect(karcherRun.stderr).toContain("karcher does not use weight, so it is ignored (karcher takes: max_iter, tol)");

    await writeFile(join(root, "ram-epsilon.yml"), "models:\n  - {model: general, parameters: {epsilon: 0.1}}\n  - {model: safety}\nbase_model: base\nmerge_method: ram\n");
    const ramRun = await runCli(["merge", "ram-epsilon.yml", "out-re", "--dry-run"], { cwd: root });
    expect(ramRun.code).toBe(0);
    expect(ramRun.stderr).toContain("epsilon is one value for all models in ram");

    await writeFile(join(root, "sce-typo.yml"), "models:\n  - {model: general}\n  - {model: safety}\nbase_model: base\nmerge_method: sce\nparameters: {select_top_k: 0.5}\n");
    const sceRun = await runCli(["merge", "sce-typo.yml", "out-st", "--dry-run"], { cwd: root });
    expect(sceRun.code).toBe(2);
    expect(sceRun.stderr).toContain('unknown parameter — did you mean "select_topk"? (sce takes: select_topk, int8_mask)');
  });

  it("nearswap without t, and arcee_fusion without a base, are refused before any work", async () => {
    await writeFile(join(root, "nearswap-no-t.yml"), "models:\n  - {model: general}\nbase_model: base\nmerge_method: nearswap\n");
    const noT = await runCli(["merge", "nearswap-no-t.yml", "out-nt", "--dry-run"], { cwd: root });
    expect(noT.code).toBe(2);
    expect(noT.stderr).toContain("Missing required parameter t");
    await writeFile(join(root, "fusion-no-base.yml"), "models:\n  - {model: general}\n  - {model: safety}\nmerge_method: arcee_fusion\n");
    const noBase = await runCli(["merge", "fusion-no-base.yml", "out-nb", "--dry-run"], { cwd: root });
    expect(noBase.code).toBe(2);
    expect(noBase.stderr).toContain("merge_method arcee_fusion needs a base_model");
  });
});
