import { describe, expect, it } from "vitest";
import { backward } from "../../src/train/backward.ts";
import { fillBatch, type TrainingSequence } from "../../src/train/batches.ts";
import { createEngine, loadParams } from "../../src/train/engine.ts";
import { forward } from "../../src/train/forward.ts";
import { tensorShapes } from "../../src/train/shape.ts";
import { randomModel, referenceConfig, referenceLoss, SEQUENCES, TINY, toFloat64 } from "./helpers.ts";

/**
 * The analytic gradient against central differences (h = 1e-5) of the float64 reference loss, per tensor as
 * ‖analytic − numeric‖ / ‖numeric‖ over the checked elements (every `stride`-th one).
 */
function gradientErrors(sequences: readonly TrainingSequence[], stride: number): Record<string, number> {
  const model = randomModel(TINY, "gradient");
  const engine = createEngine(TINY, sequences.length, Math.max(...sequences.map((s) => s.ids.length)));
  loadParams(engine, model.params);
  fillBatch(engine, sequences);
  const loss = forward(engine);
  backward(engine);

  const config = referenceConfig(TINY);
  const weights = toFloat64(model);
  expect(Math.abs(loss - referenceLoss(config, weights, sequences))).toBeLessThan(1e-5);
  const h = 1e-5;
  const errors: Record<string, number> = {};
  for (const [name] of tensorShapes(TINY)) {
    const w = weights.get(name)!;
    const analytic = engine.grads.get(name)!;
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < w.length; i += stride) {
      const keep = w[i]!;
      w[i] = keep + h;
      const up = referenceLoss(config, weights, sequences);
      w[i] = keep - h;
      const down = referenceLoss(config, weights, sequences);
      w[i] = keep;
      const numeric = (up - down) / (2 * h);
      diff += (analytic[i]! - numeric) ** 2;
      norm += numeric ** 2;
    }
    expect(norm, `${name} has a gradient`).toBeGreaterThan(1e-8);
    errors[name] = Math.sqrt(diff / norm);
  }
  if (process.env.TRAIN_GRADIENT_REPORT) console.log(errors);
  return errors;
}

describe("the backward pass", () => {
  it("matches central differences of the float64 reference loss for every parameter of every tensor", () => {
    for (const [name, error] of Object.entries(gradientErrors(SEQUENCES, 1))) expect(error, name).toBeLessThan(1e-4);
  });

  it("matches them too for sequences longer than attention's causal block (every 7th parameter)", () => {
    const long = [
      { ids: Array.from({ length: 70 }, (_, t) => (t * 7 + 3) % TINY.vocab) },
      { ids: Array.from({ length: 45 }, (_, t) => (t * 11 + 1) % TINY.vocab), lossMask: Array.from({ length: 45 }, (_, t) => (t > 20 ? 1 : 0)) },
    ];
    for (const [name, error] of Object.entries(gradientErrors(long, 7))) expect(error, name).toBeLessThan(1e-4);
  });
});
