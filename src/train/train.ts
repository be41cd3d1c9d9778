import { backward } from "./backward.ts";
import { fillBatch } from "./batches.ts";
import { forward } from "./forward.ts";
import { createTrainer, type TrainOptions, type TrainResult } from "./trainer.ts";

export type { TrainOptions, TrainResult } from "./trainer.ts";

/**
 * Trains with AdamW on batches drawn from a seeded stream, on this thread. Deterministic: the same options give
 * bit-identical losses and parameters on one platform (fixed summation orders, no Math.random, no threads).
 */
export function trainModel(options: TrainOptions): TrainResult {
  const trainer = createTrainer(options);
  for (let step = 1; step <= options.steps; step++) {
    fillBatch(trainer.engine, trainer.nextBatch());
    const loss = forward(trainer.engine);
    backward(trainer.engine);
    trainer.update(step, loss);
  }
  return trainer.result();
}
