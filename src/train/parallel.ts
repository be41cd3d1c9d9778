import type { Worker } from "node:worker_threads";
import { backward } from "./backward.ts";
import { fillBatch, type TrainingSequence } from "./batches.ts";
import { forward } from "./forward.ts";
import type { ModelShape } from "./shape.ts";
import { startWorker } from "./start-worker.ts";
import { trainModel } from "./train.ts";
import { createTrainer, type TrainOptions, type TrainResult } from "./trainer.ts";

export interface GradientWorkerData {
  shape: ModelShape;
  batch: number;
  seqLen: number;
  /** Float32 [parameters | the worker's gradients], shared with the worker. */
  exchange: SharedArrayBuffer;
}
export interface GradientJob {
  sequences: TrainingSequence[];
}
export type GradientReply = { loss: number; weight: number } | { error: string };

/**
 * trainModel with each batch split across two threads: this one takes the first ⌈batch/2⌉ sequences, a worker
 * the rest, and the gradients are combined as the whole batch's (each half's mean weighted by its share of the
 * target tokens, this thread's first). Deterministic, but not bit-identical to trainModel: the sums are split.
 * Worth it when a core is free; for two fine-tunes at once, trainInWorker twice uses both cores already.
 */
export async function trainModelParallel(options: TrainOptions): Promise<TrainResult> {
  if (options.batchSize < 2) return trainModel(options);
  const mine = Math.ceil(options.batchSize / 2);
  const trainer = createTrainer(options, mine);
  const { engine } = trainer;
  const size = engine.flatParams.length;
  const exchange = new SharedArrayBuffer(2 * size * 4);
  const shared = new Float32Array(exchange);
  const theirGrads = shared.subarray(size);
  const helper = new GradientHelper(startWorker("gradient-worker", { shape: engine.shape, batch: options.batchSize - mine, seqLen: options.seqLen, exchange }));
  try {
    for (let step = 1; step <= options.steps; step++) {
      const batch = trainer.nextBatch();
      shared.set(engine.flatParams);
      const theirs = helper.run({ sequences: batch.slice(mine) });
      fillBatch(engine, batch.slice(0, mine));
      const myLoss = forward(engine);
      backward(engine);
      let myWeight = 0;
      for (let r = 0; r < engine.rows; r++) myWeight += engine.weights[r]!;
      const { loss: theirLoss, weight: theirWeight } = await theirs;
      const total = myWeight + theirWeight;
      const [a, b] = total > 0 ? [myWeight / total, theirWeight / total] : [0, 0];
      const grads = engine.flatGrads;
      for (let i = 0; i < size; i++) grads[i] = a * grads[i]! + b * theirGrads[i]!;
      trainer.update(step, a * myLoss + b * theirLoss);
    }
  } finally {
    await helper.close();
  }
  return trainer.result();
}

/** The worker side of the split: one job at a time, answered in order. */
class GradientHelper {
  private pending?: { resolve: (reply: { loss: number; weight: number }) => void; reject: (err: Error) => void };
  private failure?: Error;

  constructor(private readonly worker: Worker) {
    worker.on("message", (reply: GradientReply) => {
      const pending = this.pending;
      this.pending = undefined;
      if ("error" in reply) pending?.reject(new Error(`training worker: ${reply.error}`));
      else pending?.resolve(reply);
    });
    const fail = (err: Error) => {
      this.failure = err;
      this.pending?.reject(err);
      this.pending = undefined;
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`training worker exited with code ${code}`)));
  }

  run(job: GradientJob): Promise<{ loss: number; weight: number }> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}
