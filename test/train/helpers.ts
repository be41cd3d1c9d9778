import { seededRng } from "../../src/merge/rng.ts";
import { parseLlamaConfig, type LlamaConfig } from "../../src/models/llama-config.ts";
import { llamaLogits } from "../../src/models/llama-reference.ts";
import type { TrainingSequence } from "../../src/train/batches.ts";
import type { Model } from "../../src/train/model.ts";
import { configJson, tensorShapes, type ModelShape } from "../../src/train/shape.ts";

/** Small enough to check every parameter by finite differences; odd sizes exercise the kernel's remainders. */
export const TINY: ModelShape = { vocab: 20, hidden: 8, intermediate: 14, layers: 2, heads: 2, kvHeads: 1, headDim: 4, rmsEps: 1e-5, ropeTheta: 10000 };

export function referenceConfig(shape: ModelShape): LlamaConfig {
  return parseLlamaConfig(configJson(shape), "test");
}

/** Weights far from init (norm weights around 1, matrices ±0.5), so every gradient is well away from zero. */
export function randomModel(shape: ModelShape, seed: string): Model {
  const rng = seededRng("train-test-model", seed);
  const params = new Map(
    tensorShapes(shape).map(([name, dims]) => {
      const values = new Float32Array(dims.reduce((a, b) => a * b, 1));
      for (let i = 0; i < values.length; i++) values[i] = dims.length === 1 ? 0.5 + rng.next() : rng.next() - 0.5;
      return [name, values] as const;
    }),
  );
  return { shape, params };
}

/** A prompt-masked, a padded and an unmasked sequence. */
export const SEQUENCES: TrainingSequence[] = [
  { ids: [1, 7, 3, 19, 4] },
  { ids: [2, 5, 11], lossMask: [0, 0, 1] },
  { ids: [3, 0, 8, 8], lossMask: [0, 1, 0, 1] },
];

/** The weighted mean cross-entropy of the float64 reference forward pass. */
export function referenceLoss(config: LlamaConfig, weights: Map<string, Float64Array>, sequences: readonly TrainingSequence[]): number {
  let loss = 0;
  let total = 0;
  for (const s of sequences) {
    const ids = Array.from(s.ids);
    const logits = llamaLogits(config, (n) => weights.get(n), ids);
    for (let t = 0; t + 1 < ids.length; t++) {
      const weight = s.lossMask ? s.lossMask[t + 1]! : 1;
      if (!weight) continue;
      const row = logits[t]!;
      const max = Math.max(...row);
      const logSum = Math.log(row.reduce((sum, v) => sum + Math.exp(v - max), 0)) + max;
      loss += weight * (logSum - row[ids[t + 1]!]!);
      total += weight;
    }
  }
  return loss / total;
}

export function toFloat64(model: Model): Map<string, Float64Array> {
  return new Map([...model.params].map(([name, values]) => [name, Float64Array.from(values)]));
}
