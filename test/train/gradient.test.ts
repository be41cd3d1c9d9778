import { describe, expect, it } from "vitest";
import { backward } from "../../src/train/backward.ts";
import { fillBatch } from "../../src/train/batches.ts";
import { createEngine, loadParams } from "../../src/train/engine.ts";
import { forward } from "../../src/train/forward.ts";
import { tensorShapes } from "../../src/train/shape.ts";
import { randomModel, referenceConfig, referenceLoss, SEQUENCES, TINY, toFloat64 } from "./helpers.ts";

describe("the backward pass", () => {
  it("matches central differences of the float64 reference loss for every parameter of every tensor", () => {
    const model = randomModel(TINY, "gradient");
    const engine = createEngine(TINY, SEQUENCES.length, 5);
    loadParams(engine, model.params);
    fillBatch(engine, SEQUENCES);
    const loss = forward(engine);
    backward(engine);

    const config = referenceConfig(TINY);
    const weights = toFloat64(model);
    expect(Math.abs(loss - referenceLoss(config, weights, SEQUENCES))).toBeLessThan(1e-5);
    const h = 1e-5;
    const errors: Record<string, number> = {};
    for (const [name] of tensorShapes(TINY)) {
      const w = weights.get(name)!;
      const analytic = engine.grads.get(name)!;
      let diff = 0;
      let norm = 0;
      for (let i = 0; i < w.length; i++) {
        const keep = w[i]!;
        w[i] = keep + h;
        const up = referenceLoss(config, weights, SEQUENCES);
        w[i] = keep - h;
        const down = referenceLoss(config, weights, SEQUENCES);
        w[i] = keep;
        const numeric = (up - down) / (2 * h);
        diff += (analytic[i]! - numeric) ** 2;
        norm += numeric ** 2;
      }
      expect(norm, `${name} has a gradient`).toBeGreaterThan(1e-8);
      errors[name] = Math.sqrt(diff / norm);
    }
    if (process.env.TRAIN_GRADIENT_REPORT) console.log(errors);
    for (const [name, error] of Object.entries(errors)) expect(error, name).toBeLessThan(1e-4);
  });
});
