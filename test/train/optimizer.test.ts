import { describe, expect, it } from "vitest";
import { adamwStep, clipGradients } from "../../src/train/adamw.ts";
import { learningRate } from "../../src/train/schedule.ts";

describe("AdamW", () => {
  it("takes the hand-computed first and second steps, decaying matrices and not norms", () => {
    const options = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const matrix = { params: Float32Array.from([1, -2]), grads: Float32Array.from([0.5, -0.1]), m: new Float32Array(2), v: new Float32Array(2), decay: true };
    const norm = { params: Float32Array.from([1]), grads: Float32Array.from([2]), m: new Float32Array(1), v: new Float32Array(1), decay: false };
    adamwStep([matrix, norm], 1, 0.01, options);
    // Step 1: m̂ = g, v̂ = g², so the update is lr·g/(|g| + ε) = ±lr; decay first multiplies by 1 − lr·λ = 0.999.
    expect(matrix.params[0]).toBeCloseTo(1 * 0.999 - 0.01, 7);
    expect(matrix.params[1]).toBeCloseTo(-2 * 0.999 + 0.01, 7);
    expect(norm.params[0]).toBeCloseTo(1 - 0.01, 7);
    expect(matrix.m[0]).toBeCloseTo(0.05, 7);
    expect(matrix.v[0]).toBeCloseTo(0.05 * 0.25, 7);
    // Step 2 with gradient 0.25: m = 0.9·0.05 + 0.1·0.25 = 0.07, v = 0.95·0.0125 + 0.05·0.0625 = 0.015;
    // m̂ = 0.07 / 0.19, v̂ = 0.015 / 0.0975.
    matrix.grads.set([0.25, 0]);
    const before = matrix.params[0]!;
    adamwStep([matrix], 2, 0.02, options);
    const expected = before * (1 - 0.02 * 0.1) - (0.02 * (0.07 / 0.19)) / (Math.sqrt(0.015 / 0.0975) + 1e-8);
    expect(matrix.params[0]).toBeCloseTo(expected, 6);
  });

  it("clips by the global norm, and leaves small gradients alone", () => {
    const grads = Float32Array.from([3, 4]);
    expect(clipGradients(grads, 1)).toBeCloseTo(5);
    expect(grads[0]).toBeCloseTo(0.6, 5);
    expect(grads[1]).toBeCloseTo(0.8, 5);
    const small = Float32Array.from([0.3, 0.4]);
    clipGradients(small, 1);
    expect([...small]).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });
});

describe("the learning-rate schedule", () => {
  it("warms up linearly, then follows a cosine down to minLr at the last step", () => {
    expect(learningRate(1, 100, 1, 10, 0.1)).toBeCloseTo(0.1);
    expect(learningRate(10, 100, 1, 10, 0.1)).toBeCloseTo(1);
    expect(learningRate(55, 100, 1, 10, 0.1)).toBeCloseTo(0.55);
    expect(learningRate(100, 100, 1, 10, 0.1)).toBeCloseTo(0.1);
    expect(learningRate(5, 5, 1, 5, 0.1)).toBeCloseTo(1);
  });
});
