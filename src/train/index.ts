/** Training LLaMA-architecture models in TypeScript: the API the family recipe builds on. */
export { trainModel, type TrainOptions, type TrainResult } from "./train.ts";
export { trainInWorker } from "./in-worker.ts";
export { trainModelParallel } from "./parallel.ts";
export { evaluateLoss } from "./evaluate.ts";
export { initModel, loadModel, saveModel, type Model, type Params } from "./model.ts";
export { configJson, shapeFromConfig, tensorShapes, type ModelShape } from "./shape.ts";
export type { TrainingSequence } from "./batches.ts";
