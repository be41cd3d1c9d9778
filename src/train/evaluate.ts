import { checkSequences, fillBatch, type TrainingSequence } from "./batches.ts";
import { createEngine, loadParams } from "./engine.ts";
import { forward } from "./forward.ts";
import type { Model } from "./model.ts";

/**
 * The model's loss on `sequences` (held-out data, say): the mean cross-entropy over every target token, weighted
 * by the loss masks exactly as in training, computed batchSize sequences at a time.
 */
export function evaluateLoss(model: Model, sequences: readonly TrainingSequence[], batchSize = 16): number {
  const seqLen = sequences.reduce((max, s) => Math.max(max, s.ids.length), 2);
  checkSequences(sequences, model.shape.vocab, seqLen);
  const engine = createEngine(model.shape, Math.min(batchSize, sequences.length), seqLen);
  loadParams(engine, model.params);
  let loss = 0;
  let total = 0;
  for (let at = 0; at < sequences.length; at += engine.batch) {
    fillBatch(engine, sequences.slice(at, at + engine.batch));
    const batchLoss = forward(engine);
    let weight = 0;
    for (let r = 0; r < engine.rows; r++) weight += engine.weights[r]!;
    loss += batchLoss * weight;
    total += weight;
  }
  return total > 0 ? loss / total : 0;
}
