import { InputError } from "../errors.ts";
import { ADAMW_DEFAULTS, adamwStep, clipGradients, type AdamWSlot } from "./adamw.ts";
import { BatchSampler, checkSequences, type TrainingSequence } from "./batches.ts";
import { copyParams, createEngine, loadParams, type Engine } from "./engine.ts";
import { initModel, type Model } from "./model.ts";
import { learningRate } from "./schedule.ts";
import { tensorShapes, type ModelShape } from "./shape.ts";

export interface TrainOptions {
  /** Where training starts: a new model of `shape` initialised from `seed`, or a model's parameters (loadModel's). */
  init: { shape: ModelShape; seed: number | string } | Model;
  sequences: readonly TrainingSequence[];
  steps: number;
  /** Sequences per step. */
  batchSize: number;
  /** The longest sequence allowed (longer ones are refused); each batch is padded only to its own longest. */
  seqLen: number;
  /** The peak learning rate. */
  lr: number;
  /** Seeds the order in which sequences are drawn into batches. */
  seed: number | string;
  /** Linear warm-up steps; default a tenth of the steps, at most 100. */
  warmupSteps?: number;
  /** The learning rate the cosine ends at; default lr / 10. */
  minLr?: number;
  /** AdamW's decoupled weight decay on matrices (never on norms); default 0.1. */
  weightDecay?: number;
  /** Gradients are scaled to this global L2 norm when above it; default 1. */
  maxGradNorm?: number;
  onStep?(step: number, loss: number): void;
}

export interface TrainResult {
  model: Model;
  /** The loss of each step's batch, before that step's update. */
  losses: number[];
}

/** A training run's state between steps: its engine, batch stream and optimizer. */
export interface Trainer {
  engine: Engine;
  /** The sequences of the next step's batch, from the seeded stream. */
  nextBatch(): TrainingSequence[];
  /** Given engine.flatGrads for the whole batch and its loss: clips, takes the AdamW step, records the loss. */
  update(step: number, loss: number): void;
  result(): TrainResult;
}

/** Checks the options and sets up a run; the engine holds `engineBatch` sequences (a share of the batch when split). */
export function createTrainer(options: TrainOptions, engineBatch = options.batchSize): Trainer {
  const { sequences, steps, batchSize, seqLen, lr } = options;
  const start = "params" in options.init ? options.init : initModel(options.init.shape, options.init.seed);
  const { shape } = start;
  for (const [key, value] of Object.entries({ steps, batchSize, seqLen })) {
    if (!Number.isInteger(value) || value < 1) throw new InputError(`training: ${key} ${value} is not a positive integer`);
  }
  if (!(lr > 0)) throw new InputError(`training: lr ${lr} is not positive`);
  checkSequences(sequences, shape.vocab, seqLen);
  const warmupSteps = options.warmupSteps ?? Math.min(100, Math.ceil(steps / 10));
  const minLr = options.minLr ?? lr / 10;
  const adamw = { ...ADAMW_DEFAULTS, weightDecay: options.weightDecay ?? ADAMW_DEFAULTS.weightDecay };
  const maxGradNorm = options.maxGradNorm ?? 1;

  const engine = createEngine(shape, engineBatch, seqLen);
  loadParams(engine, start.params);
  const slots: AdamWSlot[] = tensorShapes(shape).map(([name, dims]) => {
    const size = engine.params.get(name)!.length;
    return { params: engine.params.get(name)!, grads: engine.grads.get(name)!, m: new Float32Array(size), v: new Float32Array(size), decay: dims.length > 1 };
  });
  const sampler = new BatchSampler(sequences.length, options.seed);
  const losses: number[] = [];
  return {
    engine,
    nextBatch: () => sampler.next(batchSize).map((i) => sequences[i]!),
    update(step, loss) {
      if (!Number.isFinite(loss)) throw new Error(`training diverged: the loss at step ${step} is ${loss} (try a lower lr)`);
      clipGradients(engine.flatGrads, maxGradNorm);
      adamwStep(slots, step, learningRate(step, steps, lr, warmupSteps, minLr), adamw);
      losses.push(loss);
      options.onStep?.(step, loss);
    },
    result: () => ({ model: { shape, params: copyParams(engine) }, losses }),
  };
}
