import { InputError } from "../errors.ts";
import { ADAMW_DEFAULTS, adamwStep, clipGradients, type AdamWSlot } from "./adamw.ts";
import { backward } from "./backward.ts";
import { BatchSampler, checkSequences, fillBatch, type TrainingSequence } from "./batches.ts";
import { copyParams, createEngine, loadParams } from "./engine.ts";
import { forward } from "./forward.ts";
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

/**
 * Trains with AdamW on batches drawn from a seeded stream. Deterministic: the same options give bit-identical
 * losses and parameters on one platform (fixed summation orders, no Math.random, no threads).
 */
export function trainModel(options: TrainOptions): TrainResult {
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

  const engine = createEngine(shape, batchSize, seqLen);
  loadParams(engine, start.params);
  const slots: AdamWSlot[] = tensorShapes(shape).map(([name, dims]) => {
    const size = engine.params.get(name)!.length;
    return { params: engine.params.get(name)!, grads: engine.grads.get(name)!, m: new Float32Array(size), v: new Float32Array(size), decay: dims.length > 1 };
  });
  const sampler = new BatchSampler(sequences.length, options.seed);
  const losses: number[] = [];
  for (let step = 1; step <= steps; step++) {
    fillBatch(engine, sampler.next(batchSize).map((i) => sequences[i]!));
    const loss = forward(engine);
    backward(engine);
    clipGradients(engine.flatGrads, maxGradNorm);
    adamwStep(slots, step, learningRate(step, steps, lr, warmupSteps, minLr), adamw);
    losses.push(loss);
    options.onStep?.(step, loss);
  }
  return { model: { shape, params: copyParams(engine) }, losses };
}
