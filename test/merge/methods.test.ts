import { describe, expect, it } from "vitest";
import { dareLinear } from "../../src/merge/methods/dare-linear.ts";
import { dareTies } from "../../src/merge/methods/dare-ties.ts";
import { della } from "../../src/merge/methods/della.ts";
import { linear } from "../../src/merge/methods/linear.ts";
import { modelStock } from "../../src/merge/methods/model-stock.ts";
import { nuslerp } from "../../src/merge/methods/nuslerp.ts";
import { passthrough } from "../../src/merge/methods/passthrough.ts";
import { getMethod } from "../../src/merge/methods/registry.ts";
import { slerp } from "../../src/merge/methods/slerp.ts";
import { taskArithmetic } from "../../src/merge/methods/task-arithmetic.ts";
import { ties } from "../../src/merge/methods/ties.ts";
import { breadcrumbs } from "../../src/merge/methods/breadcrumbs.ts";
import { callMethod } from "./method-harness.ts";

const close = (actual: number[], expected: number[], digits = 5) => {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, digits));
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

describe("linear", () => {
  it("is Σ w·M / Σ w (hand-worked)", () => {
    close(callMethod(linear, { models: [[1, 2], [3, 4]], perModel: [{ weight: 0.25 }, { weight: 0.75 }] }), [2.5, 3.5]);
    close(callMethod(linear, { models: [[1, 2], [3, 4]], perModel: [{ weight: 1 }, { weight: 3 }] }), [2.5, 3.5]);
  });
  it("without normalize is the plain weighted sum", () => {
    close(callMethod(linear, { models: [[1, 2], [3, 4]], perModel: [{ weight: 1 }, { weight: 3 }], global: { normalize: false } }), [10, 14]);
  });
  it("with one weight is that model", () => {
    const m = randomVector(50, 3);
    close(callMethod(linear, { models: [m, randomVector(50, 4)], perModel: [{ weight: 0.6 }, { weight: 0 }] }), m);
  });
  it("refuses weights summing to zero under normalize", () => {
    expect(linear.checkParams!({ normalize: true }, [{ weight: 0.5 }, { weight: -0.5 }])).toMatch(/sum to 0/);
    expect(linear.checkParams!({ normalize: false }, [{ weight: 0.5 }, { weight: -0.5 }])).toBeUndefined();
  });
});

describe("slerp (reference vectors)", () => {
  const run = (a: number[], b: number[], t: number) => callMethod(slerp, { base: a, models: [b], global: { t } });
  it("matches mergekit's hand-worked values", () => {
    close(run([1, 0], [0, 1], 0.5), [0.70711, 0.70711]);
    close(run([2, 0], [0, 1], 0.5), [1.41421, 0.70711]);
    close(run([1, 0], [1, 1], 0.3), [1.06907, 0.33014]);
    close(run([1, 2, 3], [-3, 1, 2], 0.25), [-0.11203, 2.00065, 3.15988]);
  });
  it("falls back to lerp above |cos| 0.9995", () => {
    close(run([1, 0], [1, 0.03], 0.5), [1, 0.015]);
    close(run([1, 0], [-1, 0], 0.25), [0.5, 0]); // antiparallel: also lerp
  });
  it("t = 0 gives the base and t = 1 the other model", () => {
    const a = randomVector(64, 1);
    const b = randomVector(64, 2);
    close(run(a, b, 0), a, 6);
    close(run(a, b, 1), b, 6);
  });
  it("needs exactly two models", () => {
    expect(slerp.checkInputs!({ models: 2, base: true })).toMatch(/exactly two/);
    expect(slerp.checkInputs!({ models: 1, base: true })).toBeUndefined();
  });
});

describe("task arithmetic family", () => {
  it("task_arithmetic = B + λ·Σ w(M − B)", () => {
    const out = callMethod(taskArithmetic, {
      base: [1, 1],
      models: [[2, 0], [1, 3]],
      perModel: [{ weight: 0.5 }, { weight: 1 }],
      global: { lambda: 2 },
    });
    close(out, [1 + 2 * 0.5, 1 + 2 * (-0.5 + 2)]);
  });

  it("TIES density 1: sign election with weights before the vote (reference vector)", () => {
    const out = callMethod(ties, {
      base: [0, 0, 0, 0],
      models: [[1, -2, 3, 0.5], [-1, -1, 1, 2]],
      perModel: [{ weight: 1 }, { weight: 1 }],
    });
    close(out, [1, -1.5, 2, 1.25]);
  });

  it("TIES density 0.5 trims each task vector to its top half first (reference vector)", () => {
    const out = callMethod(ties, {
      base: [0, 0, 0, 0],
      models: [[1, -2, 3, 0.5], [-1.5, -1, 0.8, 2]],
      perModel: [{ weight: 1, density: 0.5 }, { weight: 1, density: 0.5 }],
    });
    close(out, [-1.5, -2, 3, 2]);
  });

  it("TIES: a weight changes the vote, and a tie at 0 counts as +", () => {
    // δ1 = +1, δ2 = −1: with weights 1 and 3, Σ = −2 so − wins and only model 2 is kept.
    close(callMethod(ties, { base: [0], models: [[1], [-1]], perModel: [{ weight: 1 }, { weight: 3 }] }), [-1]);
    // Equal weights: Σ = 0 → majority +, only model 1 agrees, divided by its weight.
    close(callMethod(ties, { base: [0], models: [[1], [-1]], perModel: [{ weight: 1 }, { weight: 1 }] }), [1]);
  });

  it("TIES agrees with a direct reading of the reference on random vectors (zeros, exact ties, negative weights)", () => {
    // Straight from the notes: D = w·δ; maj = sign(ΣD) with 0 → +; keep non-zero D of the majority sign; divide
    // by the kept weights (0 → 1); add to the base.
    const reference = (base: number[], models: number[][], weights: number[], normalize: boolean) =>
      base.map((b, j) => {
        const d = models.map((m, i) => weights[i]! * (m[j]! - b));
        const positive = d.reduce((s, x) => s + x, 0) >= 0;
        const keep = d.map((x) => (positive ? x > 0 : x < 0));
        const mixed = d.reduce((s, x, i) => s + (keep[i] ? x : 0), 0);
        const div = weights.reduce((s, w, i) => s + (keep[i] ? w : 0), 0);
        return b + (normalize ? mixed / (div === 0 ? 1 : div) : mixed);
      });
    const pick = [0, 0.5, -0.5, 1, -1, 0.25];
    for (const count of [2, 3]) {
      for (const [weights, normalize] of [[[1, 1, 1], true], [[0.3, 0.9, 0.5], true], [[1, -0.5, 0.7], false], [[0.5, 0.5, 2], false]] as const) {
        const n = 400;
        const r = randomVector(n * (count + 1), count * 7 + weights.length);
        const base = Array.from({ length: n }, (_, j) => Math.round(r[j]! * 4) / 4);
        const models = Array.from({ length: count }, (_, i) =>
          base.map((b, j) => b + pick[Math.floor(Math.abs(r[n * (i + 1) + j]!) * pick.length) % pick.length]!),
        );
        const w = weights.slice(0, count);
        const out = callMethod(ties, { base, models, perModel: w.map((weight) => ({ weight })), global: { normalize } });
        close(out, reference(base, models, w, normalize), 5);
      }
    }
  });

  it("TIES: an empty tensor merges to an empty tensor; a tensor too small for the density is an error", () => {
    expect(callMethod(ties, { base: [], models: [[]], perModel: [{ weight: 1, density: 0.5 }], shape: [0] })).toEqual([]);
    expect(() => callMethod(ties, { base: [0], models: [[1]], perModel: [{ weight: 1, density: 0.5 }] })).toThrow(/keeps no entry/);
  });

  it("TIES with density 1 and one model is task arithmetic", () => {
    const base = randomVector(40, 5);
    const model = randomVector(40, 6);
    const ta = callMethod(taskArithmetic, { base, models: [model], perModel: [{ weight: 0.7 }] });
    close(callMethod(ties, { base, models: [model], perModel: [{ weight: 0.7 }], global: { normalize: false } }), ta, 5);
    close(callMethod(ties, { base, models: [model], perModel: [{ weight: 1 }] }), callMethod(taskArithmetic, { base, models: [model], perModel: [{ weight: 1 }] }), 5);
  });

  it("DARE with density 1 drops nothing", () => {
    const base = randomVector(40, 7);
    const models = [randomVector(40, 8), randomVector(40, 9)];
    const perModel = [{ weight: 0.4 }, { weight: 0.6 }];
    close(callMethod(dareLinear, { base, models, perModel }), callMethod(taskArithmetic, { base, models, perModel }), 5);
    close(callMethod(dareTies, { base, models, perModel, global: { normalize: true } }), callMethod(ties, { base, models, perModel }), 5);
  });

  it("DARE keeps about `density` of each task vector and preserves its L1 norm exactly", () => {
    const n = 20000;
    const base = randomVector(n, 10);
    const model = randomVector(n, 11);
    const delta = model.map((v, i) => v - base[i]!);
    const out = callMethod(dareLinear, { base, models: [model], perModel: [{ weight: 1, density: 0.3 }], seed: 42 });
    const kept = out.map((v, i) => v - base[i]!);
    const nonzero = kept.filter((v) => Math.abs(v) > 1e-6).length;
    expect(nonzero / n).toBeGreaterThan(0.28);
    expect(nonzero / n).toBeLessThan(0.32);
    const l1 = (xs: number[]) => xs.reduce((s, x) => s + Math.abs(x), 0);
    expect(l1(kept) / l1(delta)).toBeCloseTo(1, 3);
    // every kept entry is δ times one scalar (the rescale factor)
    const ratios = kept.map((v, i) => (Math.abs(v) > 1e-4 && Math.abs(delta[i]!) > 1e-3 ? v / delta[i]! : NaN)).filter((r) => !Number.isNaN(r));
    const factor = ratios[0]!;
    expect(factor).toBeGreaterThan(1 / 0.3 - 0.3);
    for (const r of ratios) expect(r).toBeCloseTo(factor, 2);
  });

  it("DARE masks depend on the seed and the tensor name only", () => {
    const base = randomVector(1000, 12);
    const model = randomVector(1000, 13);
    const run = (seed: number, tensor: string) =>
      callMethod(dareTies, { base, models: [model], perModel: [{ weight: 1, density: 0.5 }], seed, tensor });
    expect(run(1, "a")).toEqual(run(1, "a"));
    expect(run(1, "a")).not.toEqual(run(2, "a"));
    expect(run(1, "a")).not.toEqual(run(1, "b"));
  });

  it("breadcrumbs drops the smallest and the top γ·N (N=100, d=0.9, γ=0.01)", () => {
    const delta = Array.from({ length: 100 }, (_, i) => (i % 2 ? 1 : -1) * (i + 1));
    const out = callMethod(breadcrumbs, { base: new Array(100).fill(0), models: [delta], perModel: [{ weight: 1, density: 0.9, gamma: 0.01 }] });
    const expected = delta.map((v) => (Math.abs(v) <= 9 || Math.abs(v) === 100 ? 0 : v));
    close(out, expected);
  });

  it("breadcrumbs keeps ⌊d·N⌋ entries for γ = g(1−d), and nothing when ⌊γ·N⌋ = 0 (mergekit quirk)", () => {
    const n = 128 * 64;
    const delta = randomVector(n, 14);
    for (const d of [0.1, 0.3, 0.5, 0.6, 0.9]) {
      for (const g of [0.1, 0.2, 0.5, 1]) {
        const out = callMethod(breadcrumbs, { base: new Array(n).fill(0), models: [delta], perModel: [{ weight: 1, density: d, gamma: g * (1 - d) }] });
        expect(out.filter((v) => v !== 0).length).toBe(Math.floor(n * d));
      }
    }
    const tiny = callMethod(breadcrumbs, { base: [0, 0, 0, 0], models: [[1, 2, 3, 4]], perModel: [{ weight: 1, density: 0.5, gamma: 0.01 }] });
    expect(tiny).toEqual([0, 0, 0, 0]);
  });

  it("della validates its probability window and keeps values finite", () => {
    expect(della.checkParams!({}, [{ density: 0.5, epsilon: 1.35 }])).toMatch(/epsilon/);
    expect(della.checkParams!({}, [{ density: 0.5, epsilon: 0.05 }])).toBeUndefined();
    const n = 64 * 32;
    const out = callMethod(della, {
      base: new Array(n).fill(0),
      models: [randomVector(n, 15)],
      perModel: [{ weight: 1, density: 0.5, epsilon: 0.05 }],
      shape: [64, 32],
    });
    expect(out.every(Number.isFinite)).toBe(true);
    const kept = out.filter((v) => v !== 0).length / n;
    expect(kept).toBeGreaterThan(0.45);
    expect(kept).toBeLessThan(0.55);
  });
});

describe("model_stock, nuslerp, passthrough", () => {
  it("model_stock: t = N·cos/(1+(N−1)cos) (reference vector)", () => {
    close(callMethod(modelStock, { base: [0, 0], models: [[1, 0], [1, 1]] }), [0.82843, 0.41421]);
  });
  it("model_stock: orthogonal task vectors give the base", () => {
    close(callMethod(modelStock, { base: [5, 5], models: [[6, 5], [5, 6]] }), [5, 5]);
  });
  it("nuslerp: t = w2/(w1+w2), and 0.5 when the weights cancel", () => {
    close(callMethod(nuslerp, { models: [[1, 0], [0, 1]], perModel: [{ weight: 1 }, { weight: 1 }] }), [0.70711, 0.70711]);
    close(callMethod(nuslerp, { models: [[1, 0], [0, 1]], perModel: [{ weight: -0.5 }, { weight: 0.5 }] }), [0.70711, 0.70711]);
    close(callMethod(nuslerp, { models: [[1, 0], [0, 1]], perModel: [{ weight: 1 }, { weight: 0 }] }), [1, 0]);
  });
  it("nuslerp with a base interpolates task vectors", () => {
    close(callMethod(nuslerp, { base: [1, 1], models: [[2, 1], [1, 2]], perModel: [{ weight: 1 }, { weight: 1 }] }), [1.70711, 1.70711]);
  });
  it("nuslerp row-wise slerps each row separately", () => {
    const out = callMethod(nuslerp, {
      models: [[1, 0, 2, 0], [0, 1, 0, 2]],
      perModel: [{ weight: 1 }, { weight: 1 }],
      global: { nuslerp_flatten: false },
      shape: [2, 2],
    });
    close(out, [0.70711, 0.70711, 1.41421, 1.41421]);
  });
  it("passthrough copies and scales", () => {
    close(callMethod(passthrough, { models: [[1, -2]], perModel: [{ scale: 0 }] }), [0, 0]);
    close(callMethod(passthrough, { models: [[1, -2]] }), [1, -2]);
  });
});

describe("registry", () => {
  it("rejects unknown names and suggests the underscore spelling", () => {
    expect(() => getMethod("dare-ties", "x.yml")).toThrow(/did you mean dare_ties/);
    expect(() => getMethod("bogus", "x.yml")).toThrow(/known: .*linear/);
  });
});
